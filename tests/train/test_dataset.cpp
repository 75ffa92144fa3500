#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "alphax/train/dataset.hpp"

namespace alphax::train {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class DataFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("alphax_train_" + std::string(info->name()) + "_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static void put_be32(std::vector<std::uint8_t>& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(v >> s));
  }
  // Pixel (i, k) = (i * 7 + k) % 256, label i = i % 10.
  static std::vector<std::uint8_t> idx_images(std::uint32_t count, std::uint32_t h, std::uint32_t w,
                                              std::uint32_t magic = 0x803) {
    std::vector<std::uint8_t> out;
    put_be32(out, magic);
    put_be32(out, count);
    put_be32(out, h);
    put_be32(out, w);
    for (std::uint32_t i = 0; i < count; ++i) {
      for (std::uint32_t k = 0; k < h * w; ++k) out.push_back(static_cast<std::uint8_t>((i * 7 + k) % 256));
    }
    return out;
  }
  static std::vector<std::uint8_t> idx_labels(std::uint32_t count, std::uint32_t magic = 0x801) {
    std::vector<std::uint8_t> out;
    put_be32(out, magic);
    put_be32(out, count);
    for (std::uint32_t i = 0; i < count; ++i) out.push_back(static_cast<std::uint8_t>(i % 10));
    return out;
  }
  fs::path write(const std::string& name, const std::vector<std::uint8_t>& bytes, bool gzip = false) {
    const auto path = dir_ / name;
    if (gzip) {
      gzFile f = gzopen(path.c_str(), "wb");
      gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                  static_cast<std::streamsize>(bytes.size()));
    }
    return path;
  }
  std::string error_of_idx(const fs::path& images, const fs::path& labels) {
    try {
      (void)read_idx(images, labels);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(DataFiles, ReadsRawIdxImagesAndLabels) {
  const auto set = read_idx(write("img", idx_images(12, 5, 4)), write("lab", idx_labels(12)));
  EXPECT_EQ(set.count, 12);
  EXPECT_EQ(set.channels, 1);
  EXPECT_EQ(set.height, 5);
  EXPECT_EQ(set.width, 4);
  ASSERT_EQ(set.pixels.size(), 12u * 20u);
  EXPECT_EQ(set.pixels[3 * 20 + 2], (3 * 7 + 2) % 256);
  EXPECT_EQ(set.labels[11], 1);
}

TEST_F(DataFiles, ReadsGzipIdxLikeRaw) {
  const auto raw = read_idx(write("img", idx_images(9, 3, 3)), write("lab", idx_labels(9)));
  const auto gz = read_idx(write("img.gz", idx_images(9, 3, 3), true), write("lab.gz", idx_labels(9), true));
  EXPECT_EQ(gz.pixels, raw.pixels);
  EXPECT_EQ(gz.labels, raw.labels);
}

TEST_F(DataFiles, MissingFileNamesThePathAndTheFix) {
  const auto msg = error_of_idx(dir_ / "nope-images", write("lab", idx_labels(3)));
  EXPECT_NE(msg.find("nope-images"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST_F(DataFiles, WrongMagicNumberIsReported) {
  const auto swapped = error_of_idx(write("lab", idx_labels(3)), write("img", idx_images(3, 2, 2)));
  EXPECT_NE(swapped.find("magic number 0x00000801"), std::string::npos) << swapped;
  EXPECT_NE(swapped.find("expected 0x00000803"), std::string::npos) << swapped;
  const auto bad_labels = error_of_idx(write("img", idx_images(3, 2, 2)), write("lab2", idx_labels(3, 0x999)));
  EXPECT_NE(bad_labels.find("lab2"), std::string::npos) << bad_labels;
}

TEST_F(DataFiles, TruncatedRawAndGzipFilesAreReported) {
  auto bytes = idx_images(10, 4, 4);
  bytes.resize(bytes.size() - 5);
  const auto msg = error_of_idx(write("img", bytes), write("lab", idx_labels(10)));
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  EXPECT_NE(msg.find("img"), std::string::npos) << msg;

  auto labels = idx_labels(10);
  labels.resize(labels.size() - 1);
  const auto gz = error_of_idx(write("img.gz", idx_images(10, 4, 4), true), write("lab.gz", labels, true));
  EXPECT_NE(gz.find("lab.gz"), std::string::npos) << gz;
  EXPECT_NE(gz.find("truncated"), std::string::npos) << gz;
}

TEST_F(DataFiles, ImageLabelCountMismatchIsReported) {
  const auto msg = error_of_idx(write("img", idx_images(10, 2, 2)), write("lab", idx_labels(9)));
  EXPECT_NE(msg.find("10 images"), std::string::npos) << msg;
  EXPECT_NE(msg.find("9 labels"), std::string::npos) << msg;
}

TEST_F(DataFiles, ReadsCifarBinaryRecords) {
  std::vector<std::uint8_t> bytes;
  for (int r = 0; r < 3; ++r) {
    bytes.push_back(static_cast<std::uint8_t>(r + 4));
    for (int k = 0; k < 3072; ++k) bytes.push_back(static_cast<std::uint8_t>((r + k) % 251));
  }
  const std::vector<fs::path> files{write("data_batch_1.bin", bytes), write("data_batch_2.bin", bytes)};
  const auto set = read_cifar10_bin(files);
  EXPECT_EQ(set.count, 6);
  EXPECT_EQ(set.channels, 3);
  EXPECT_EQ(set.height, 32);
  EXPECT_EQ(set.labels[4], 5);
  EXPECT_EQ(set.pixels[static_cast<std::size_t>(2 * 3072 + 1024)], (2 + 1024) % 251);
}

TEST_F(DataFiles, CifarTruncatedFileAndBadLabelAreReported) {
  std::vector<std::uint8_t> bytes(3073 * 2 - 10, 1);
  const std::vector<fs::path> truncated{write("data_batch_1.bin", bytes)};
  try {
    (void)read_cifar10_bin(truncated);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("data_batch_1.bin"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("whole number"), std::string::npos) << e.what();
  }
  std::vector<std::uint8_t> bad(3073, 0);
  bad[0] = 12;
  const std::vector<fs::path> bad_label{write("data_batch_2.bin", bad)};
  EXPECT_THROW((void)read_cifar10_bin(bad_label), std::runtime_error);
  const std::vector<fs::path> missing{dir_ / "test_batch.bin"};
  EXPECT_THROW((void)read_cifar10_bin(missing), std::runtime_error);
}

TEST_F(DataFiles, ReadDatasetFindsGzipFilesByStandardName) {
  write("train-images-idx3-ubyte.gz", idx_images(20, 4, 4), true);
  write("train-labels-idx1-ubyte.gz", idx_labels(20), true);
  write("t10k-images-idx3-ubyte", idx_images(5, 4, 4));
  write("t10k-labels-idx1-ubyte", idx_labels(5));
  const auto files = read_dataset("fashion-mnist", dir_);
  EXPECT_EQ(files.train.count, 20);
  EXPECT_EQ(files.test.count, 5);
  EXPECT_THROW((void)read_dataset("fashion-mnist", dir_ / "missing"), std::runtime_error);
  EXPECT_THROW((void)read_dataset("imagenet", dir_), std::runtime_error);
}

ImageSet synthetic_set(std::int64_t count) {
  ImageSet set;
  set.count = count;
  set.channels = 2;
  set.height = 2;
  set.width = 2;
  set.num_classes = 10;
  for (std::int64_t i = 0; i < count; ++i) {
    for (int k = 0; k < 8; ++k) set.pixels.push_back(static_cast<std::uint8_t>(k < 4 ? i % 256 : 200));
    set.labels.push_back(static_cast<std::int32_t>(i % 10));
  }
  return set;
}

TEST(Split, SameSeedSameSplitAndDisjointParts) {
  const auto set = synthetic_set(100);
  const auto a = split_train_validation(set, 20, 50, 7);
  const auto b = split_train_validation(set, 20, 50, 7);
  const auto c = split_train_validation(set, 20, 50, 8);
  EXPECT_EQ(a.train.count, 50);
  EXPECT_EQ(a.validation.count, 20);
  EXPECT_EQ(a.train.pixels, b.train.pixels);
  EXPECT_EQ(a.validation.pixels, b.validation.pixels);
  EXPECT_NE(a.validation.pixels, c.validation.pixels);
  std::set<int> seen;  // pixel 0 of image i is i: every image at most once
  for (std::int64_t i = 0; i < a.train.count; ++i) EXPECT_TRUE(seen.insert(a.train.pixels[i * 8]).second);
  for (std::int64_t i = 0; i < a.validation.count; ++i) EXPECT_TRUE(seen.insert(a.validation.pixels[i * 8]).second);
  EXPECT_EQ(split_train_validation(set, 20, 0, 7).train.count, 80);
  EXPECT_THROW((void)split_train_validation(set, 60, 50, 7), std::invalid_argument);
}

TEST(Normalisation, ChannelStatsAndGatherGiveZeroMeanChannels) {
  const auto set = synthetic_set(10);  // channel 0: values 0..9, channel 1: constant 200
  const auto stats = channel_stats(set);
  EXPECT_NEAR(stats.mean[0], 4.5 / 255.0, 1e-6);
  EXPECT_NEAR(stats.mean[1], 200.0 / 255.0, 1e-6);
  EXPECT_EQ(stats.stddev[1], 1.0f);  // constant channel
  tensor::Tensor x(tensor::Shape{10, 2, 2, 2});
  std::vector<std::int32_t> labels(10);
  std::vector<std::int64_t> all{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
  gather_batch(set, all, stats, x, labels);
  double sum0 = 0, sq0 = 0;
  for (std::int64_t i = 0; i < 10; ++i) {
    for (int k = 0; k < 4; ++k) {
      sum0 += x(i, 0, k / 2, k % 2);
      sq0 += x(i, 0, k / 2, k % 2) * x(i, 0, k / 2, k % 2);
    }
    EXPECT_NEAR(x(i, 1, 0, 0), 0.0, 1e-6);
  }
  EXPECT_NEAR(sum0 / 40, 0.0, 1e-5);
  EXPECT_NEAR(sq0 / 40, 1.0, 1e-4);
  EXPECT_EQ(labels[7], 7);
}

TEST(BatchIterator, CoversEveryIndexOncePerEpochAndReshuffles) {
  BatchIterator it(10, 4, 3, true, false);
  EXPECT_EQ(it.batches_per_epoch(), 3);
  std::vector<std::int64_t> first;
  for (auto b = it.next(); !b.empty(); b = it.next()) first.insert(first.end(), b.begin(), b.end());
  ASSERT_EQ(first.size(), 10u);
  EXPECT_EQ(std::set<std::int64_t>(first.begin(), first.end()).size(), 10u);
  it.next_epoch();
  std::vector<std::int64_t> second;
  for (auto b = it.next(); !b.empty(); b = it.next()) second.insert(second.end(), b.begin(), b.end());
  EXPECT_NE(first, second);
  BatchIterator dropping(10, 4, 3, true, true);
  EXPECT_EQ(dropping.batches_per_epoch(), 2);
  int batches = 0;
  for (auto b = dropping.next(); !b.empty(); b = dropping.next()) ++batches;
  EXPECT_EQ(batches, 2);
}

TEST(BatchIterator, FixedCycleRepeatsOneShuffledOrderEveryEpoch) {
  BatchIterator it(10, 5, 3, true, true, /*fixed_cycle=*/true);
  auto epoch = [&] {
    std::vector<std::int64_t> order;
    for (auto b = it.next(); !b.empty(); b = it.next()) order.insert(order.end(), b.begin(), b.end());
    it.next_epoch();
    return order;
  };
  const auto first = epoch();
  std::vector<std::int64_t> natural(10);
  std::iota(natural.begin(), natural.end(), 0);
  EXPECT_NE(first, natural);  // shuffled once
  EXPECT_EQ(epoch(), first);  // and then the same batches in the same order
  EXPECT_EQ(epoch(), first);
}

TEST(BatchIterator, RestoredStateContinuesTheSameSequence) {
  BatchIterator a(50, 8, 11, true, true);
  (void)a.next();
  a.next_epoch();
  (void)a.next();
  const auto saved = a.state();
  const auto next = a.next();
  const std::vector<std::int64_t> expected(next.begin(), next.end());
  BatchIterator b(50, 8, 11, true, true);
  b.restore(saved);
  const auto got = b.next();
  EXPECT_EQ(std::vector<std::int64_t>(got.begin(), got.end()), expected);
  EXPECT_THROW(b.restore(BatchIteratorState{0, 51}), std::invalid_argument);
}

TEST(InstalledFashionMnist, ReadsTheSixtyThousandTrainingImages) {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir / "train-images-idx3-ubyte.gz") && !fs::exists(dir / "train-images-idx3-ubyte")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed in " << dir << " (apt-get install dataset-fashion-mnist)";
  }
  const auto files = read_dataset("fashion-mnist", dir);
  EXPECT_EQ(files.train.count, 60000);
  EXPECT_EQ(files.test.count, 10000);
  EXPECT_EQ(files.train.height, 28);
  std::vector<int> per_class(10, 0);
  for (const auto l : files.test.labels) ++per_class[static_cast<std::size_t>(l)];
  for (const auto n : per_class) EXPECT_EQ(n, 1000);  // Fashion-MNIST's test set is balanced
}

}  // namespace
}  // namespace alphax::train
