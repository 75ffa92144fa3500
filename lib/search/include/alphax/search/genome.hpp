#pragma once
/// \file
/// \brief The vocabulary every search space and strategy shares.
#include <cstdint>
#include <random>
#include <vector>

namespace alphax::search {

/// \brief The random engine of every strategy and space; seeded from the config, saved in checkpoints.
using Rng = std::mt19937_64;

/// \brief An architecture as a fixed-length vector of decisions (one per position of the space).
/// A partial architecture (a node of a search tree) holds kUndecided at the positions not yet chosen.
using Genome = std::vector<std::int32_t>;

/// \brief The value of a position that a partial architecture has not decided yet.
inline constexpr std::int32_t kUndecided = -1;

/// \brief One step from a partial architecture towards a terminal one: set `position` to `value`.
struct Action {
  std::int32_t position = 0;
  std::int32_t value = 0;
  friend bool operator==(const Action&, const Action&) = default;
};

}  // namespace alphax::search
