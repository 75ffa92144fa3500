#pragma once
/// \file
/// \brief A cell as lib/train builds it: nodes and edges with op names (no dependency on lib/search).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace alphax::train {

/// \brief One edge of a cell: the output of node `from` goes through `op` into node `to`.
struct CellEdge {
  std::int32_t from = 0;
  std::int32_t to = 0;
  std::string op;  ///< "none", "skip_connect"/"identity", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3", ...
};

/// \brief A DAG cell. Node 0 is the cell input, node num_nodes-1 the output; a node sums the
/// outputs of its incoming edges and then applies node_ops[node] ("" = nothing) — edge ops carry
/// NAS-Bench-201 cells, node ops carry NAS-Bench-101 cells.
struct CellSpec {
  std::int32_t num_nodes = 0;
  std::vector<std::string> node_ops;
  std::vector<CellEdge> edges;
};

/// \brief Parses a NAS-Bench-201 cell string, e.g.
/// `|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|`.
///
/// Group g (1-based, separated by `+`) lists the edges into node g as `op~from` with from < g.
/// Throws std::invalid_argument naming the offending token and the expected form. Op names are
/// checked against the edge-op registry (is_known_edge_op).
[[nodiscard]] CellSpec parse_nb201_cell(std::string_view text);

/// \brief The NAS-Bench-201 string of a cell whose edges all end in nodes 1..num_nodes-1 (inverse
/// of parse_nb201_cell up to edge order within a group).
[[nodiscard]] std::string to_nb201_string(const CellSpec& cell);

/// \brief Checks a cell: node count >= 2, node_ops empty or of size num_nodes, every edge
/// 0 <= from < to < num_nodes, known op names. Throws std::invalid_argument naming the edge or op.
void validate_cell(const CellSpec& cell);

/// \brief True when `op` names an edge op lib/train can build (see docs/train.md for the list).
[[nodiscard]] bool is_known_edge_op(std::string_view op);

/// \brief True when `op` names a node op lib/train can build ("" means no op).
[[nodiscard]] bool is_known_node_op(std::string_view op);

/// \brief The edge op names lib/train can build, comma-separated, for error messages.
[[nodiscard]] std::string known_edge_ops();

/// \brief The node op names lib/train can build, comma-separated, for error messages.
[[nodiscard]] std::string known_node_ops();

}  // namespace alphax::train
