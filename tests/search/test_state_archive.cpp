#include <gtest/gtest.h>

#include "alphax/search/state_archive.hpp"

using alphax::search::StateArchive;

TEST(StateArchive, TypedEntriesAndNestedGroupsRoundTrip) {
  StateArchive archive;
  archive.put("weights", std::vector<double>{0.5, -1.25});
  archive.put_scalar("count", std::int64_t{7});
  archive.child("tree").put("label", std::string("root"));
  EXPECT_EQ(archive.doubles("weights")[1], -1.25);
  EXPECT_EQ(archive.scalar_int("count"), 7);
  EXPECT_EQ(archive.child("tree").text("label"), "root");
  StateArchive copy = archive;
  EXPECT_EQ(copy, archive);
  copy.child("tree").put("label", std::string("changed"));
  EXPECT_NE(copy, archive);
}

TEST(StateArchive, MissingOrMistypedEntryNamesTheEntry) {
  StateArchive archive;
  archive.put_scalar("count", std::int64_t{7});
  try {
    (void)archive.doubles("count");
    FAIL() << "expected a type error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("count"), std::string::npos);
  }
  EXPECT_THROW((void)archive.text("absent"), std::runtime_error);
  const StateArchive& const_archive = archive;
  EXPECT_THROW((void)const_archive.child("absent"), std::runtime_error);
}

TEST(StateArchive, RngStateRestoresTheSameStream) {
  std::mt19937_64 rng(42);
  rng.discard(1000);
  StateArchive archive;
  alphax::search::save_rng(archive, "rng", rng);
  std::mt19937_64 restored(1);
  alphax::search::load_rng(archive, "rng", restored);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(rng(), restored());
}
