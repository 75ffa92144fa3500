// checkpoint.h5: StateArchive round trip, atomic generations, and every kind of bad file.
#include <gtest/gtest.h>

#include <fstream>

#include "alphax/checkpoint.hpp"
#include "alphax/hdf5_handle.hpp"
#include "test_files.hpp"

namespace alphax::app {
namespace {

search::StateArchive sample_state(double marker) {
  search::StateArchive a;
  a.put("weights", std::vector<double>{marker, -0.0, 1e-300, 3.5});
  a.put("counts", std::vector<std::int64_t>{-7, 0, 1LL << 62});
  a.put("hashes", std::vector<std::uint64_t>{~0ULL, 5});
  a.put("empty", std::vector<double>{});
  a.put("text", std::string("mt19937 state 1 2 3"));
  a.child("tree").child("node0").put_scalar("visits", std::int64_t{12});
  a.child("tree").put("blank", std::string());
  return a;
}

void overwrite_middle(const std::filesystem::path& file) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(0, std::ios::end);
  const auto size = static_cast<long long>(f.tellg());
  std::string junk(static_cast<std::size_t>(size / 2), 'X');
  f.seekp(size / 4);
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
}

TEST(Checkpoint, ArchiveRoundTripsBitExactly) {
  const auto dir = testing::fresh_directory("ckpt");
  const auto state = sample_state(0.1);
  write_archive_file(dir / "a.h5", state);
  EXPECT_EQ(read_archive_file(dir / "a.h5"), state);
}

TEST(Checkpoint, SaveKeepsThePreviousGenerationAndLoadsTheNewest) {
  const auto dir = testing::fresh_directory("ckpt");
  CheckpointStore store(dir);
  EXPECT_FALSE(store.load_newest().has_value());
  store.save(sample_state(1.0));
  store.save(sample_state(2.0));
  EXPECT_TRUE(std::filesystem::exists(store.previous()));
  EXPECT_FALSE(std::filesystem::exists(dir / "checkpoint.h5.tmp"));
  const auto loaded = store.load_newest();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->state, sample_state(2.0));
  EXPECT_TRUE(loaded->rejected.empty());
}

TEST(Checkpoint, CorruptNewestFallsBackToPreviousWithAReason) {
  const auto dir = testing::fresh_directory("ckpt");
  CheckpointStore store(dir);
  store.save(sample_state(1.0));
  store.save(sample_state(2.0));
  overwrite_middle(store.current());
  const auto loaded = store.load_newest();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->state, sample_state(1.0));
  EXPECT_EQ(loaded->file, store.previous());
  ASSERT_EQ(loaded->rejected.size(), 1u);
  EXPECT_NE(loaded->rejected[0].find("checkpoint.h5"), std::string::npos) << loaded->rejected[0];
}

TEST(Checkpoint, TruncatedNewestFallsBackToPrevious) {
  const auto dir = testing::fresh_directory("ckpt");
  CheckpointStore store(dir);
  store.save(sample_state(1.0));
  store.save(sample_state(2.0));
  std::filesystem::resize_file(store.current(), std::filesystem::file_size(store.current()) / 3);
  const auto loaded = store.load_newest();
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->state, sample_state(1.0));
}

TEST(Checkpoint, WrongVersionIsRejectedNamingBothVersions) {
  const auto dir = testing::fresh_directory("ckpt");
  write_archive_file(dir / "v.h5", sample_state(1.0));
  {
    H5File file(H5Fopen((dir / "v.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT), "open");
    h5_write_int_attribute(file.get(), "format_version", 99);
  }
  try {
    read_archive_file(dir / "v.h5");
    FAIL() << "version 99 must be rejected";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("version 99"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, NoValidGenerationIsAnErrorListingEveryFile) {
  const auto dir = testing::fresh_directory("ckpt");
  CheckpointStore store(dir);
  store.save(sample_state(1.0));
  store.save(sample_state(2.0));
  overwrite_middle(store.current());
  std::filesystem::resize_file(store.previous(), 100);
  try {
    store.load_newest();
    FAIL() << "two bad generations must be an error";
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("checkpoint.h5"), std::string::npos) << what;
    EXPECT_NE(what.find("checkpoint.prev.h5"), std::string::npos) << what;
  }
}

TEST(Checkpoint, ChecksumChangesWithAnyValue) {
  auto a = sample_state(1.0);
  const auto before = archive_checksum(a);
  a.child("tree").child("node0").put_scalar("visits", std::int64_t{13});
  EXPECT_NE(archive_checksum(a), before);
}

}  // namespace
}  // namespace alphax::app
