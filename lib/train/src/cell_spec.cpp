#include "alphax/train/cell_spec.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <stdexcept>
#include <string>

namespace alphax::train {
namespace {

// The op names the network builder (network.cpp) implements; keep the two in step.
constexpr std::array<std::string_view, 6> kEdgeOps = {"none",         "skip_connect", "identity",
                                                      "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"};
constexpr std::array<std::string_view, 6> kNodeOps = {"",         "input",          "output",
                                                      "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"};

template <std::size_t N>
std::string join(const std::array<std::string_view, N>& names) {
  std::string out;
  for (const auto name : names) {
    if (name.empty()) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// One `op~from` token of group `node` (1-based target node).
CellEdge parse_edge_token(std::string_view token, std::int32_t node) {
  const auto tilde = token.rfind('~');
  if (tilde == std::string_view::npos || tilde == 0 || tilde + 1 == token.size()) {
    throw std::invalid_argument("parse_nb201_cell: token " + quoted(token) + " of node " + std::to_string(node) +
                                " is not of the form op~from (e.g. 'nor_conv_3x3~0')");
  }
  const std::string_view op = token.substr(0, tilde);
  const std::string_view from_text = token.substr(tilde + 1);
  std::int32_t from = -1;
  const auto [end, ec] = std::from_chars(from_text.data(), from_text.data() + from_text.size(), from);
  if (ec != std::errc{} || end != from_text.data() + from_text.size()) {
    throw std::invalid_argument("parse_nb201_cell: token " + quoted(token) + " has input " + quoted(from_text) +
                                ", which is not a node number");
  }
  if (from < 0 || from >= node) {
    throw std::invalid_argument("parse_nb201_cell: token " + quoted(token) + " feeds node " + std::to_string(node) +
                                " from node " + std::to_string(from) + "; inputs must be earlier nodes 0.." +
                                std::to_string(node - 1));
  }
  if (!is_known_edge_op(op)) {
    throw std::invalid_argument("parse_nb201_cell: unknown op " + quoted(op) + " in token " + quoted(token) +
                                "; known ops: " + known_edge_ops());
  }
  return CellEdge{from, node, std::string(op)};
}

}  // namespace

bool is_known_edge_op(std::string_view op) {
  return std::find(kEdgeOps.begin(), kEdgeOps.end(), op) != kEdgeOps.end();
}

bool is_known_node_op(std::string_view op) {
  return std::find(kNodeOps.begin(), kNodeOps.end(), op) != kNodeOps.end();
}

std::string known_edge_ops() { return join(kEdgeOps); }
std::string known_node_ops() { return join(kNodeOps); }

CellSpec parse_nb201_cell(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\n");
  const auto last = text.find_last_not_of(" \t\n");
  if (first == std::string_view::npos) {
    throw std::invalid_argument(
        "parse_nb201_cell: empty cell string; expected e.g. '|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|'");
  }
  text = text.substr(first, last - first + 1);
  CellSpec cell;
  std::int32_t node = 0;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto plus = std::min(text.find('+', pos), text.size());
    const std::string_view group = text.substr(pos, plus - pos);
    ++node;
    if (group.size() < 2 || group.front() != '|' || group.back() != '|') {
      throw std::invalid_argument("parse_nb201_cell: group " + quoted(group) + " (node " + std::to_string(node) +
                                  ") must be enclosed in '|', e.g. '|nor_conv_3x3~0|skip_connect~1|'");
    }
    const std::string_view inner = group.substr(1, group.size() - 2);
    std::size_t tpos = 0;
    while (tpos <= inner.size()) {
      const auto bar = std::min(inner.find('|', tpos), inner.size());
      cell.edges.push_back(parse_edge_token(inner.substr(tpos, bar - tpos), node));
      tpos = bar + 1;
    }
    pos = plus + 1;
  }
  cell.num_nodes = node + 1;
  cell.node_ops.assign(static_cast<std::size_t>(cell.num_nodes), "");
  validate_cell(cell);
  return cell;
}

std::string to_nb201_string(const CellSpec& cell) {
  std::string out;
  for (std::int32_t node = 1; node < cell.num_nodes; ++node) {
    if (node > 1) out += '+';
    out += '|';
    for (const auto& e : cell.edges) {
      if (e.to == node) out += e.op + "~" + std::to_string(e.from) + "|";
    }
  }
  return out;
}

void validate_cell(const CellSpec& cell) {
  if (cell.num_nodes < 2) {
    throw std::invalid_argument("validate_cell: a cell needs at least 2 nodes (input and output), got " +
                                std::to_string(cell.num_nodes));
  }
  if (!cell.node_ops.empty() && cell.node_ops.size() != static_cast<std::size_t>(cell.num_nodes)) {
    throw std::invalid_argument("validate_cell: node_ops has " + std::to_string(cell.node_ops.size()) +
                                " entries for " + std::to_string(cell.num_nodes) +
                                " nodes; give one per node or none");
  }
  for (const auto& op : cell.node_ops) {
    if (!is_known_node_op(op)) {
      throw std::invalid_argument("validate_cell: unknown node op " + quoted(op) + "; known node ops: " +
                                  known_node_ops() + " (or empty)");
    }
  }
  for (const auto& e : cell.edges) {
    if (e.from < 0 || e.to >= cell.num_nodes || e.from >= e.to) {
      throw std::invalid_argument("validate_cell: edge " + std::to_string(e.from) + "->" + std::to_string(e.to) +
                                  " (" + e.op + ") must satisfy 0 <= from < to < " +
                                  std::to_string(cell.num_nodes));
    }
    if (!is_known_edge_op(e.op)) {
      throw std::invalid_argument("validate_cell: unknown edge op " + quoted(e.op) + " on edge " +
                                  std::to_string(e.from) + "->" + std::to_string(e.to) +
                                  "; known ops: " + known_edge_ops());
    }
  }
}

}  // namespace alphax::train
