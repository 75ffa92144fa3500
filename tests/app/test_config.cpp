// The run configuration: every class of mistake is rejected with its key path and a fix.
#include <gtest/gtest.h>

#include <string>

#include "alphax/config.hpp"

namespace alphax::app {
namespace {

const char* kMinimal = R"(
run: {name: t, seed: 3, budget: {max_evaluations: 10}}
space: {name: nb201}
strategy: {name: random}
evaluator: {name: table, file: data/nb201/nb201_cifar10_12epoch.csv}
)";

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(text, overrides, ".");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, MinimalConfigGetsDocumentedDefaults) {
  const RunConfig c = parse_config(kMinimal, {}, ".");
  EXPECT_EQ(c.name, "t");
  EXPECT_EQ(c.seed, 3u);
  EXPECT_EQ(c.max_evaluations, 10u);
  EXPECT_EQ(c.output, "runs/t");
  EXPECT_EQ(c.group_size, 1);
  EXPECT_EQ(c.restart, RestartMode::automatic);
  EXPECT_EQ(c.order, ResultOrder::deterministic);
  EXPECT_FALSE(c.target_objective.has_value());
}

TEST(Config, UnknownKeyIsNamedWithItsPath) {
  const auto e = error_of(std::string(kMinimal) + "trainers: {group_sise: 2}\n");
  EXPECT_NE(e.find("trainers.group_sise"), std::string::npos) << e;
  EXPECT_NE(e.find("group_size"), std::string::npos) << e;  // lists the valid keys
}

TEST(Config, WrongTypeIsNamedWithItsPath) {
  const auto e = error_of(kMinimal, {"run.budget.max_evaluations=many"});
  EXPECT_NE(e.find("run.budget.max_evaluations"), std::string::npos) << e;
  EXPECT_NE(e.find("whole number"), std::string::npos) << e;
}

TEST(Config, OutOfRangeValueSaysTheRange) {
  const auto e = error_of(kMinimal, {"run.checkpoint.every_seconds=-5"});
  EXPECT_NE(e.find("run.checkpoint.every_seconds"), std::string::npos) << e;
  EXPECT_NE(e.find(">= 0"), std::string::npos) << e;
  EXPECT_NE(error_of(kMinimal, {"trainers.group_size=0"}).find("trainers.group_size"), std::string::npos);
}

TEST(Config, BadChoiceListsTheChoices) {
  const auto e = error_of(kMinimal, {"run.restart=sometimes"});
  EXPECT_NE(e.find("auto | never | require"), std::string::npos) << e;
}

TEST(Config, MissingSectionSaysWhatToAdd) {
  const auto e = error_of("run: {name: t}\nspace: {name: nb201}\nstrategy: {name: random}\n");
  EXPECT_NE(e.find("evaluator"), std::string::npos) << e;
}

TEST(Config, SetOverridesNestedValuesAndIsRecorded) {
  const RunConfig c = parse_config(kMinimal, {"run.budget.max_evaluations=42", "run.budget.target_objective=91.5",
                                              "strategy.name=mcts", "trainers.group_size=2"},
                                   ".");
  EXPECT_EQ(c.max_evaluations, 42u);
  ASSERT_TRUE(c.target_objective.has_value());
  EXPECT_DOUBLE_EQ(*c.target_objective, 91.5);
  EXPECT_EQ(c.strategy["name"].as<std::string>(), "mcts");
  EXPECT_NE(c.effective_text.find("max_evaluations: 42"), std::string::npos) << c.effective_text;
  // The effective text parses back to the same configuration.
  const RunConfig again = parse_config(c.effective_text, {}, ".");
  EXPECT_EQ(again.max_evaluations, 42u);
  EXPECT_EQ(again.group_size, 2);
}

TEST(Config, MalformedSetIsRejected) {
  EXPECT_NE(error_of(kMinimal, {"run.seed"}).find("key.path=value"), std::string::npos);
  EXPECT_NE(error_of(kMinimal, {"run..seed=1"}).find("empty key"), std::string::npos);
  EXPECT_NE(error_of(kMinimal, {"run.name.x=1"}).find("not a map"), std::string::npos);
}

TEST(Config, LayoutWithRanksNotFittingGroupsIsRejectedWithTheFix) {
  const RunConfig c = parse_config(kMinimal, {"trainers.group_size=2"}, ".");
  EXPECT_NO_THROW(check_layout(c, 5));
  EXPECT_NO_THROW(check_layout(c, 1));
  try {
    check_layout(c, 4);
    FAIL() << "3 trainer ranks in groups of 2 must be rejected";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("1 + k*2"), std::string::npos) << e.what();
  }
}

TEST(Config, MoreGroupsThanTheBudgetCanUseIsRejected) {
  const RunConfig c = parse_config(kMinimal, {"run.budget.max_evaluations=3"}, ".");
  EXPECT_NO_THROW(check_layout(c, 4));
  try {
    check_layout(c, 5);
    FAIL() << "4 groups with a budget of 3 must be rejected";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("run.budget.max_evaluations"), std::string::npos) << e.what();
  }
}

TEST(Config, GroupsCountFollowsTheLayout) {
  const RunConfig c = parse_config(kMinimal, {"trainers.group_size=2"}, ".");
  EXPECT_EQ(num_groups(c, 1), 1);
  EXPECT_EQ(num_groups(c, 7), 3);
}

}  // namespace
}  // namespace alphax::app
