#pragma once
/// \file
/// \brief The interface every search strategy implements (random, evolution, mcts, lanas).
#include <cstdint>
#include <string>

#include "alphax/search/evaluator.hpp"
#include "alphax/search/genome.hpp"
#include "alphax/search/state_archive.hpp"

namespace alphax::search {

/// \brief One architecture the strategy wants evaluated. `id` is unique within a run and is how
/// on_dispatch/on_result find the tree path or population slot the proposal came from.
struct Proposal {
  std::uint64_t id = 0;
  Genome genome;
  double predicted = 0.0;  ///< the strategy's estimate of the objective (0 when it has none)
};

/// \brief A strategy. The master calls propose() for each idle worker, on_dispatch() right after
/// sending (preemptive backpropagation), and on_result() when the evaluation comes back, in any
/// order across proposals. The whole state round-trips through save/load bit-exactly.
class SearchStrategy {
 public:
  virtual ~SearchStrategy() = default;
  virtual std::string name() const = 0;
  virtual Proposal propose() = 0;
  virtual void on_dispatch(const Proposal& proposal) = 0;
  virtual void on_result(const Proposal& proposal, const EvalResult& result) = 0;
  virtual void save(StateArchive& archive) const = 0;
  virtual void load(const StateArchive& archive) = 0;
};

}  // namespace alphax::search
