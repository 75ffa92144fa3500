#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "alphax/train/cell_spec.hpp"

namespace alphax::train {
namespace {

constexpr const char* kCell =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|";

std::string error_of(const std::string& text) {
  try {
    (void)parse_nb201_cell(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(CellSpecParse, ReadsTheSixEdgesOfAnNb201Cell) {
  const CellSpec cell = parse_nb201_cell(kCell);
  EXPECT_EQ(cell.num_nodes, 4);
  ASSERT_EQ(cell.edges.size(), 6u);
  EXPECT_EQ(cell.edges[0].from, 0);
  EXPECT_EQ(cell.edges[0].to, 1);
  EXPECT_EQ(cell.edges[0].op, "nor_conv_3x3");
  EXPECT_EQ(cell.edges[3].from, 0);
  EXPECT_EQ(cell.edges[3].to, 3);
  EXPECT_EQ(cell.edges[3].op, "skip_connect");
  EXPECT_EQ(cell.edges[5].from, 2);
  EXPECT_EQ(cell.edges[5].to, 3);
}

TEST(CellSpecParse, RoundTripsThroughTheString) {
  EXPECT_EQ(to_nb201_string(parse_nb201_cell(kCell)), kCell);
  const std::string all_ops = "|none~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_3x3~2|";
  EXPECT_EQ(to_nb201_string(parse_nb201_cell(all_ops)), all_ops);
}

TEST(CellSpecParse, AcceptsSurroundingWhitespace) {
  EXPECT_EQ(parse_nb201_cell(std::string("  ") + kCell + "\n").edges.size(), 6u);
}

TEST(CellSpecParse, UnknownOpNamesTheOpAndTheKnownOnes) {
  const auto msg = error_of("|nor_conv_3x3~0|+|conv_5x5~0|nor_conv_3x3~1|");
  EXPECT_NE(msg.find("'conv_5x5'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("avg_pool_3x3"), std::string::npos) << msg;
}

TEST(CellSpecParse, MalformedStringsNameTheToken) {
  EXPECT_NE(error_of("|nor_conv_3x3|").find("'nor_conv_3x3'"), std::string::npos);
  EXPECT_NE(error_of("|nor_conv_3x3~x|").find("'nor_conv_3x3~x'"), std::string::npos);
  EXPECT_NE(error_of("|nor_conv_3x3~1|").find("earlier nodes"), std::string::npos);
  EXPECT_NE(error_of("nor_conv_3x3~0").find("enclosed in '|'"), std::string::npos);
  EXPECT_NE(error_of("|nor_conv_3x3~0|+").find("enclosed in '|'"), std::string::npos);
  EXPECT_NE(error_of("||").find("op~from"), std::string::npos);
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
}

TEST(CellSpecValidate, RejectsBackwardEdgesAndUnknownNodeOps) {
  CellSpec cell;
  cell.num_nodes = 3;
  cell.edges = {{1, 1, "skip_connect"}};
  EXPECT_THROW(validate_cell(cell), std::invalid_argument);
  cell.edges = {{0, 1, "skip_connect"}, {1, 2, "skip_connect"}};
  EXPECT_NO_THROW(validate_cell(cell));
  cell.node_ops = {"input", "conv9x9", "output"};
  EXPECT_THROW(validate_cell(cell), std::invalid_argument);
  cell.node_ops = {"input", "conv3x3-bn-relu", "output"};
  EXPECT_NO_THROW(validate_cell(cell));
}

}  // namespace
}  // namespace alphax::train
