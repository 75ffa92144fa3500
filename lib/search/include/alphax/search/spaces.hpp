#pragma once
/// \file
/// \brief The search spaces: NAS-Bench-201 cells, NAS-Bench-101 cells, categorical sequences.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "alphax/search/search_space.hpp"

namespace alphax::search {

/// \brief NAS-Bench-201: 4 nodes, 6 edges (1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2; the order of the
/// cell string), each one of 5 ops. Genome: 6 op indices into ops().
///
/// canonical_hash: a hash of canonical_string(), NAS-Bench-201's own functional form of the cell
/// (sums are unordered, skip_connect passes its input through, edges that cannot reach the
/// output vanish): isomorphic cells hash equal; the 15,625 cells fall into 6,466 classes.
class Nb201Space final : public SearchSpace {
 public:
  static constexpr std::size_t kEdges = 6;
  static constexpr std::array<std::array<std::int32_t, 2>, kEdges> kEdgeNodes{
      {{0, 1}, {0, 2}, {1, 2}, {0, 3}, {1, 3}, {2, 3}}};  ///< {from, to} per genome position
  /// \brief none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3.
  static const std::vector<std::string>& ops();

  /// \brief How sample() draws: `classes`, uniform over the 6,466 classes and then over the cells
  /// of the class drawn (every distinct cell equally likely); `cells`, a uniform op per edge (the
  /// sampling of the NAS-Bench-201 paper's baselines), which draws a class in proportion to its
  /// size (1 cell for 5,116 classes, up to 275 for degenerate ones).
  enum class Sampling { classes, cells };

  explicit Nb201Space(Sampling sampling = Sampling::classes) : sampling_(sampling) {}
  std::string name() const override { return "nb201"; }
  std::size_t genome_length() const override { return kEdges; }
  Genome sample(Rng& rng) const override;
  Genome mutate(const Genome& genome, Rng& rng) const override;
  std::vector<float> encode(const Genome& genome) const override;
  /// \brief One-hot op per edge (30) followed by path counts (40): for each input->output path
  /// without "none", its sequence of non-skip ops. A complete cell is encoded as the smallest
  /// cell of its canonical class, so every cell of a class has the same encoding.
  std::size_t encoding_size() const override { return kEdges * 5 + 40; }
  std::uint64_t canonical_hash(const Genome& genome) const override;
  bool is_valid(const Genome& genome) const override;
  std::string format(const Genome& genome) const override;
  Genome parse(std::string_view text) const override;
  CellGraph to_cell(const Genome& genome) const override;
  std::vector<Action> actions(const Genome& partial) const override;
  Genome apply(const Genome& partial, const Action& action) const override;
  bool is_terminal(const Genome& partial) const override;
  /// \brief The output node's expression as NAS-Bench-201's to_unique_str(consider_zero=True).
  static std::string canonical_string(const Genome& genome);

 private:
  Sampling sampling_;
};

/// \brief NAS-Bench-101: 7 nodes (input, 5 interior, output), upper-triangular adjacency with at
/// most 9 edges, interior ops conv3x3-bn-relu / conv1x1-bn-relu / maxpool3x3.
/// Genome: the 21 adjacency bits above the diagonal (row-major: (0,1),(0,2),..,(0,6),(1,2),..)
/// followed by the 5 interior op indices. Valid: an input->output path exists and <= 9 edges.
/// canonical_hash prunes vertices off every input->output path, then applies the iterated hash.
/// Text form: "<21 bits>|op,op,op,op,op".
class Nb101Space final : public SearchSpace {
 public:
  static constexpr std::int32_t kNodes = 7;
  static constexpr std::int32_t kMaxEdges = 9;
  static constexpr std::size_t kAdjacency = 21;
  static constexpr std::size_t kInterior = 5;
  /// \brief conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3.
  static const std::vector<std::string>& ops();

  std::string name() const override { return "nb101"; }
  std::size_t genome_length() const override { return kAdjacency + kInterior; }
  Genome sample(Rng& rng) const override;
  Genome mutate(const Genome& genome, Rng& rng) const override;
  std::vector<float> encode(const Genome& genome) const override;
  std::size_t encoding_size() const override { return kAdjacency + kInterior * 3; }
  std::uint64_t canonical_hash(const Genome& genome) const override;
  bool is_valid(const Genome& genome) const override;
  std::string format(const Genome& genome) const override;
  Genome parse(std::string_view text) const override;
  CellGraph to_cell(const Genome& genome) const override;
  std::vector<Action> actions(const Genome& partial) const override;
  Genome apply(const Genome& partial, const Action& action) const override;
  bool is_terminal(const Genome& partial) const override;

  /// \brief The (from, to) pair of adjacency position `position` (< 21).
  static std::array<std::int32_t, 2> edge_of(std::size_t position);
};

/// \brief L positions with K_i choices each, defined in YAML:
/// `{name: categorical, choices: [3, 4, 2]}` or
/// `{name: categorical, positions: [{name: depth, values: [a, b]}, ...]}`.
/// Text form: the digits ("021") when every K_i <= 10, else the values joined by '-' ("0-12-1").
class CategoricalSpace final : public SearchSpace {
 public:
  /// \brief One position: its name and the names of its values.
  struct Position {
    std::string name;
    std::vector<std::string> values;
  };
  explicit CategoricalSpace(std::vector<Position> positions);
  /// \brief Parses the YAML form above; throws std::invalid_argument naming the bad key.
  static CategoricalSpace from_yaml(const YAML::Node& space_node);

  const std::vector<Position>& positions() const { return positions_; }
  std::string name() const override { return "categorical"; }
  std::size_t genome_length() const override { return positions_.size(); }
  Genome sample(Rng& rng) const override;
  Genome mutate(const Genome& genome, Rng& rng) const override;
  std::vector<float> encode(const Genome& genome) const override;
  std::size_t encoding_size() const override { return encoding_size_; }
  std::uint64_t canonical_hash(const Genome& genome) const override;
  bool is_valid(const Genome& genome) const override;
  std::string format(const Genome& genome) const override;
  Genome parse(std::string_view text) const override;
  CellGraph to_cell(const Genome& genome) const override;
  std::vector<Action> actions(const Genome& partial) const override;
  Genome apply(const Genome& partial, const Action& action) const override;
  bool is_terminal(const Genome& partial) const override;

 private:
  std::vector<Position> positions_;
  std::size_t encoding_size_ = 0;
  bool digits_ = true;
};

/// \brief The NAS-Bench-101 iterated neighbourhood hash of a labelled DAG (isomorphism invariant):
/// `adjacency[i][j]` true for an edge i->j, `labels[i]` the vertex label; vertex 0 is the input.
std::uint64_t graph_hash(const std::vector<std::vector<bool>>& adjacency, const std::vector<std::int32_t>& labels);

/// \brief Mixes a 64-bit value (splitmix64 finaliser); used by the hashes.
std::uint64_t mix64(std::uint64_t x);

}  // namespace alphax::search
