#pragma once
/// \file
/// \brief The interface every search space implements (NAS-Bench-201, NAS-Bench-101, categorical).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alphax/search/genome.hpp"

namespace alphax::search {

/// \brief A cell as a graph that lib/train can build (apps/ converts it to train::CellSpec).
/// Nodes 0..num_nodes-1 in topological order; node 0 is the cell input, the last node its output.
struct CellGraph {
  struct Edge {
    std::int32_t from = 0;
    std::int32_t to = 0;
    std::string op;  ///< op on the edge ("nor_conv_3x3", ...); "identity" for a plain wire
  };
  std::int32_t num_nodes = 0;
  std::vector<std::string> node_ops;  ///< op applied at a node after summing its inputs ("" = none)
  std::vector<Edge> edges;
};

/// \brief A space of architectures: sampling, mutation, encodings, hashing, and a tree of actions.
class SearchSpace {
 public:
  virtual ~SearchSpace() = default;
  /// \brief Registry name ("nb201", "nb101", "categorical").
  virtual std::string name() const = 0;
  /// \brief Number of positions of a Genome of this space.
  virtual std::size_t genome_length() const = 0;
  /// \brief A uniformly drawn valid architecture: uniform over distinct architectures (canonical
  /// classes) where the space knows its classes without enumerating itself at search time
  /// (nb201, categorical), else uniform over valid genomes (nb101).
  virtual Genome sample(Rng& rng) const = 0;
  /// \brief A valid architecture one edit away from `genome`, different from it.
  virtual Genome mutate(const Genome& genome, Rng& rng) const = 0;
  /// \brief Fixed-length float vector for predictors (one-hot etc.).
  virtual std::vector<float> encode(const Genome& genome) const = 0;
  virtual std::size_t encoding_size() const = 0;
  /// \brief Equal for isomorphic / functionally identical architectures.
  virtual std::uint64_t canonical_hash(const Genome& genome) const = 0;
  /// \brief Whether `genome` is a complete valid architecture.
  virtual bool is_valid(const Genome& genome) const = 0;
  /// \brief The standard text form (for NB201 the cell string); parse(format(g)) == g.
  virtual std::string format(const Genome& genome) const = 0;
  /// \brief Throws std::invalid_argument naming the bad token and the expected form.
  virtual Genome parse(std::string_view text) const = 0;
  /// \brief The cell lib/train builds.
  virtual CellGraph to_cell(const Genome& genome) const = 0;

  /// \brief The empty partial architecture (the root of a search tree).
  virtual Genome root() const { return Genome(genome_length(), kUndecided); }
  /// \brief Legal next decisions from a partial architecture (empty when terminal).
  virtual std::vector<Action> actions(const Genome& partial) const = 0;
  virtual Genome apply(const Genome& partial, const Action& action) const = 0;
  virtual bool is_terminal(const Genome& partial) const = 0;

  /// \brief Every valid architecture one edit away from `genome` (one position changed to
  /// another legal value), in position-then-value order. The default derives them from
  /// actions()/apply(): the legal values of a position are the actions offered when only it is
  /// undecided.
  virtual std::vector<Genome> neighbours(const Genome& genome) const;
};

}  // namespace alphax::search
