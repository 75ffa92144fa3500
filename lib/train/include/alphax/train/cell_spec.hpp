#pragma once
/// \file
/// \brief A cell as lib/train builds it: nodes and edges with op names (no dependency on lib/search).
#include <cstdint>
#include <string>
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

}  // namespace alphax::train
