#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "alphax/train/config.hpp"

namespace alphax::train {
namespace {

std::string error_of(const std::string& yaml, const std::string& path = "") {
  try {
    (void)parse_train_config(YAML::Load(yaml), path);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(TrainConfig, ReadsEveryBlock) {
  const auto c = parse_train_config(YAML::Load(R"(
arch: "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
seed: 42
threads: 2
epochs: 7
batch: 64
data: {set: mnist, dir: /tmp/x, train_subset: 1000, validation: 100, test_subset: 500, normalize: false}
network: {skeleton: plain, cells_per_stage: 2, channels: 8}
optimizer: {name: sgd, lr: 0.05, momentum: 0.8, weight_decay: 0.001, nesterov: true}
schedule: {name: step, warmup_epochs: 1, step_epochs: 3, gamma: 0.2}
transfer: {cache_size: 4, epochs_fraction: 0.25, max_distance: 2, parents: scratch}
)"));
  EXPECT_EQ(c.seed, 42u);
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.epochs, 7);
  EXPECT_EQ(c.batch, 64);
  EXPECT_EQ(c.data.set, "mnist");
  EXPECT_EQ(c.data.train_subset, 1000);
  EXPECT_EQ(c.data.test_subset, 500);
  EXPECT_FALSE(c.data.normalize);
  EXPECT_EQ(c.network.skeleton, "plain");
  EXPECT_EQ(c.network.channels, 8);
  EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.05);
  EXPECT_TRUE(c.optimizer.nesterov);
  EXPECT_EQ(c.schedule.name, "step");
  EXPECT_DOUBLE_EQ(c.schedule.gamma, 0.2);
  EXPECT_EQ(c.transfer.cache_size, 4);
  EXPECT_DOUBLE_EQ(c.transfer.epochs_fraction, 0.25);
  EXPECT_EQ(c.transfer.max_distance, 2);
  EXPECT_EQ(c.transfer.parents, "scratch");
  // to_yaml writes what parse reads.
  const auto again = parse_train_config(YAML::Load(to_yaml(c)));
  EXPECT_EQ(again.arch, c.arch);
  EXPECT_EQ(again.data.dir, c.data.dir);
  EXPECT_DOUBLE_EQ(again.optimizer.weight_decay, c.optimizer.weight_decay);
  EXPECT_EQ(again.transfer.parents, c.transfer.parents);
  EXPECT_EQ(again.transfer.max_distance, c.transfer.max_distance);
}

TEST(TrainConfig, UnknownKeysNameTheFullKeyPath) {
  EXPECT_NE(error_of("optimizer: {lrate: 0.1}", "evaluator").find("'evaluator.optimizer.lrate'"),
            std::string::npos);
  EXPECT_NE(error_of("epoch: 3").find("'epoch'"), std::string::npos);
  EXPECT_NE(error_of("data: {subset: 3}").find("'data.subset'"), std::string::npos);
}

TEST(TrainConfig, WrongTypesAndRangesNameTheKey) {
  EXPECT_NE(error_of("epochs: many").find("'epochs' must be an integer"), std::string::npos);
  EXPECT_NE(error_of("optimizer: {lr: fast}").find("'optimizer.lr' must be a number"), std::string::npos);
  EXPECT_NE(error_of("data: [1, 2]").find("'data' must be a map"), std::string::npos);
  EXPECT_NE(error_of("optimizer: {lr: -1}").find("optimizer.lr must be > 0"), std::string::npos);
  EXPECT_NE(error_of("schedule: {name: linear}").find("schedule.name"), std::string::npos);
  EXPECT_NE(error_of("transfer: {parents: all}").find("transfer.parents must be any or scratch"),
            std::string::npos);
}

TEST(TrainConfig, IgnoredKeysAndOtherOptimizersExtraSettingsAreAccepted) {
  const std::string_view ignored[] = {"name"};
  const auto c = parse_train_config(YAML::Load("name: train\nepochs: 2\noptimizer: {name: isgd, zeta: 5}"),
                                    "evaluator", ignored);
  EXPECT_EQ(c.epochs, 2);
  ASSERT_EQ(c.optimizer.extra.size(), 1u);
  EXPECT_EQ(c.optimizer.extra[0].first, "zeta");
  EXPECT_NE(error_of("optimizer: {name: sgd, zeta: 5}").find("'optimizer.zeta'"), std::string::npos);
}

TEST(TrainConfig, LoadFileNamesTheFileOnErrors) {
  const auto path =
      std::filesystem::temp_directory_path() / ("alphax_cfg_" + std::to_string(::getpid()) + ".yaml");
  std::ofstream(path) << "epochs: 0\n";
  try {
    (void)load_train_config(path);
    FAIL() << "no error";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("epochs must be >= 1"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
  EXPECT_THROW((void)load_train_config(path), std::invalid_argument);
}

TEST(TrainConfig, ShippedInputParses) {
  const std::filesystem::path inputs = std::filesystem::path(ALPHAX_TEST_SOURCE_DIR) / "inputs";
  const auto c = load_train_config(inputs / "train-fashion.yaml");
  EXPECT_FALSE(c.arch.empty());
  EXPECT_EQ(c.data.set, "fashion-mnist");
}

TEST(TrainConfig, ShippedBenchmarkInputsParse) {
  // The benchmark inputs carry a `bench:` block for `alphax bench train`; the rest is a training config.
  const std::filesystem::path inputs = std::filesystem::path(ALPHAX_TEST_SOURCE_DIR) / "inputs";
  const std::string_view ignored[] = {"bench"};
  const auto isgd = parse_train_config(YAML::LoadFile((inputs / "isgd-bench.yaml").string()), "", ignored);
  EXPECT_EQ(isgd.optimizer.name, "isgd");
  const auto legw = parse_train_config(YAML::LoadFile((inputs / "legw-bench.yaml").string()), "", ignored);
  EXPECT_EQ(legw.schedule.scaling, "legw");
  const auto transfer =
      parse_train_config(YAML::LoadFile((inputs / "transfer-bench.yaml").string()), "", ignored);
  EXPECT_GT(transfer.transfer.cache_size, 0);
  const auto longer =
      parse_train_config(YAML::LoadFile((inputs / "transfer-bench-e8.yaml").string()), "", ignored);
  EXPECT_EQ(longer.epochs, 2 * transfer.epochs);
  const auto scratch_parents = parse_train_config(
      YAML::LoadFile((inputs / "transfer-bench-parents-scratch.yaml").string()), "", ignored);
  EXPECT_EQ(scratch_parents.transfer.parents, "scratch");
}

}  // namespace
}  // namespace alphax::train
