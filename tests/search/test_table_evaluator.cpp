// TableEvaluator: lookups, isomorphs, simulated time, and every kind of bad table or config.
#include <gtest/gtest.h>

#include "alphax/search/table_evaluator.hpp"
#include "search_test_util.hpp"

namespace alphax::search {
namespace {

using testing::fresh_directory;
using testing::write_file;

const std::string kHeader = "index,arch,valid_accuracy,test_accuracy,seconds\n";
// conv3(x) + conv1(x): through node 1 and direct, and the other way round.
const std::string kCellA = "|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|";
const std::string kCellAIsomorph = "|nor_conv_1x1~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|";
const std::string kCellB = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|";

/// Expects constructing a TableEvaluator on `text` to throw a message containing every part.
void expect_table_error(const std::string& text, const std::vector<std::string>& parts, TableColumns columns = {},
                        SimulatedTime time = {}) {
  Nb201Space space;
  const auto file = write_file(fresh_directory() / "table.csv", text);
  try {
    TableEvaluator table(file, space, columns, time);
    ADD_FAILURE() << "expected an error for:\n" << text;
  } catch (const std::exception& e) {
    for (const auto& part : parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "'" << part << "' not in: " << e.what();
  }
}

TEST(TableEvaluator, LooksUpObjectiveReportAndAnswersIsomorphsByTheirClass) {
  Nb201Space space;
  const auto file = write_file(fresh_directory() / "t.csv", kHeader + "0," + kCellA + ",80.5,81.25,12\n1," + kCellB +
                                                                 ",84.0,88.5,30\n");
  TableEvaluator table(file, space, {}, SimulatedTime{SimulatedTime::Kind::column, 0, 0, "seconds", 0});
  EXPECT_EQ(table.num_rows(), 2u);
  EXPECT_EQ(table.num_classes(), 2u);
  EXPECT_EQ(table.max_objective(), 84.0);
  EXPECT_EQ(table.max_report(), 88.5);
  const auto a = table.evaluate(space, space.parse(kCellA));
  EXPECT_EQ(a.status, EvalStatus::ok);
  EXPECT_EQ(a.objective, 80.5);
  EXPECT_EQ(a.report, 81.25);
  EXPECT_EQ(a.train_seconds, 12.0);
  const auto iso = table.evaluate(space, space.parse(kCellAIsomorph));  // not listed itself
  EXPECT_EQ(iso.objective, 80.5);
  EXPECT_TRUE(table.contains(space.parse(kCellAIsomorph)));
}

TEST(TableEvaluator, ListedIsomorphsKeepTheirOwnNumbers) {
  // NAS-Bench-201 trained isomorphic cells separately, so a class can list several results; each
  // listed cell is answered with its own row, an unlisted one with the class's first row.
  // (other_isomorph differs from kCellA only on the dead edge 2<-0.)
  Nb201Space space;
  const std::string other_isomorph = "|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|nor_conv_1x1~0|skip_connect~1|none~2|";
  ASSERT_EQ(space.canonical_hash(space.parse(other_isomorph)), space.canonical_hash(space.parse(kCellA)));
  const auto file = write_file(fresh_directory() / "t.csv",
                               kHeader + "0," + kCellA + ",80,81,1\n1," + kCellAIsomorph + ",79,82,1\n");
  TableEvaluator table(file, space, {});
  EXPECT_EQ(table.num_rows(), 2u);
  EXPECT_EQ(table.num_classes(), 1u);
  EXPECT_EQ(table.evaluate(space, space.parse(kCellA)).objective, 80.0);
  EXPECT_EQ(table.evaluate(space, space.parse(kCellAIsomorph)).objective, 79.0);
  EXPECT_EQ(table.evaluate(space, space.parse(other_isomorph)).objective, 80.0);
}

TEST(TableEvaluator, ColumnsAreChosenByName) {
  Nb201Space space;
  const auto file = write_file(fresh_directory() / "t.csv", "cell,acc12,acc200\n" + kCellA + ",70,90\n");
  TableEvaluator table(file, space, {"cell", "acc200", "acc12"});
  const auto r = table.evaluate(space, space.parse(kCellA));
  EXPECT_EQ(r.objective, 90.0);
  EXPECT_EQ(r.report, 70.0);
}

TEST(TableEvaluator, ArchitectureMissingFromTheTableIsNamed) {
  Nb201Space space;
  const auto file = write_file(fresh_directory() / "t.csv", kHeader + "0," + kCellA + ",80,81,1\n");
  TableEvaluator table(file, space, {});
  EXPECT_FALSE(table.contains(space.parse(kCellB)));
  try {
    table.evaluate(space, space.parse(kCellB));
    FAIL() << "expected a missing-architecture error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(kCellB), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not in table"), std::string::npos) << e.what();
  }
}

TEST(TableEvaluator, MissingColumnNamesTheColumnTheRoleAndTheHeader) {
  expect_table_error("index,arch,valid_acc,test_accuracy\n0," + kCellA + ",1,2\n",
                     {"no column 'valid_accuracy'", "objective", "index, arch, valid_acc, test_accuracy",
                      "evaluator.objective"});
  expect_table_error(kHeader + "0," + kCellA + ",1,2,3\n", {"no column 'arch2'", "key"}, {"arch2"});
  expect_table_error(kHeader + "0," + kCellA + ",1,2,3\n", {"no column 'train_time'", "simulated_seconds.column"}, {},
                     SimulatedTime{SimulatedTime::Kind::column, 0, 0, "train_time", 0});
}

TEST(TableEvaluator, DuplicateKeyWithDifferentValuesNamesBothLines) {
  expect_table_error(kHeader + "0," + kCellA + ",80,81,1\n1," + kCellB + ",84,88,1\n2," + kCellA + ",80,82,1\n",
                     {":4:", "first on line 2", "different values", kCellA});
  // The same row twice is harmless.
  Nb201Space space;
  const auto file = write_file(fresh_directory() / "t.csv", kHeader + "0," + kCellA + ",80,81,1\n1," + kCellA + ",80,81,1\n");
  EXPECT_EQ(TableEvaluator(file, space, {}).num_rows(), 1u);
}

TEST(TableEvaluator, EmptyOrHeaderOnlyTableIsRefused) {
  expect_table_error("", {"is empty"});
  expect_table_error("\n", {"is empty"});
  expect_table_error(kHeader, {"no rows"});
  expect_table_error(kHeader + "\n\n", {"no rows"});
}

TEST(TableEvaluator, BadRowsNameFileLineAndProblem) {
  expect_table_error(kHeader + "0,|conv9~0|,1,2,3\n", {":2:", "'|conv9~0|'", "not an architecture of space 'nb201'"});
  expect_table_error(kHeader + "0," + kCellA + ",high,2,3\n", {":2:", "'valid_accuracy'", "'high'"});
  expect_table_error(kHeader + "0," + kCellA + ",nan,2,3\n", {"'nan'", "not a finite number"});
  expect_table_error(kHeader + "0," + kCellA + ",1,2\n", {":2:", "4 fields", "header has 5"});
}

TEST(TableEvaluator, MissingFileSaysWhichFileAndWhichKey) {
  Nb201Space space;
  try {
    TableEvaluator table(fresh_directory() / "absent.csv", space, {});
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("absent.csv"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("evaluator.file"), std::string::npos);
  }
}

TEST(TableEvaluator, SimulatedTimeIsConstantOrDrawnOncePerClass) {
  Nb201Space space;
  const auto file = write_file(fresh_directory() / "t.csv", kHeader + "0," + kCellA + ",80,81,1\n1," + kCellB + ",84,88,1\n");
  TableEvaluator constant(file, space, {}, SimulatedTime{SimulatedTime::Kind::constant, 2.5, 0, "", 0});
  EXPECT_EQ(constant.evaluate(space, space.parse(kCellA)).train_seconds, 2.5);
  TableEvaluator uniform(file, space, {}, SimulatedTime{SimulatedTime::Kind::uniform, 1.0, 3.0, "", 7});
  const auto a = uniform.evaluate(space, space.parse(kCellA)).train_seconds;
  EXPECT_GE(a, 1.0);
  EXPECT_LE(a, 3.0);
  EXPECT_EQ(uniform.evaluate(space, space.parse(kCellAIsomorph)).train_seconds, a);
  EXPECT_NE(uniform.evaluate(space, space.parse(kCellB)).train_seconds, a);
}

TEST(TableEvaluatorConfig, BadEvaluatorSectionsNameTheKey) {
  Nb201Space space;
  const auto dir = fresh_directory();
  write_file(dir / "t.csv", kHeader + "0," + kCellA + ",80,81,1\n");
  const auto error_of = [&](const std::string& yaml) -> std::string {
    try {
      make_table_evaluator(YAML::Load(yaml), space, dir);
    } catch (const std::exception& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error_of("{name: table}").find("evaluator.file: missing"), std::string::npos);
  EXPECT_NE(error_of("{name: train, file: t.csv}").find("unknown evaluator 'train'"), std::string::npos);
  EXPECT_NE(error_of("{name: table, file: t.csv, objetive: x}").find("evaluator.objetive"), std::string::npos);
  EXPECT_NE(error_of("{name: table, file: t.csv, simulated_seconds: fast}").find("evaluator.simulated_seconds"),
            std::string::npos);
  EXPECT_NE(error_of("{name: table, file: t.csv, simulated_seconds: {distribution: gamma}}").find("lognormal"),
            std::string::npos);
  EXPECT_EQ(error_of("{name: table, file: t.csv, simulated_seconds: {distribution: exponential, mean: 2}}"), "");
  EXPECT_NE(error_of("{name: table, file: t.csv, objective: acc}").find("no column 'acc'"), std::string::npos);
}

}  // namespace
}  // namespace alphax::search
