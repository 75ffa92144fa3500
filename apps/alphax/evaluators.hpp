#pragma once
/// \file
/// \brief Builds the configured Evaluator (`evaluator.name`: table | train) and its virtual clock.
#include <mpi.h>

#include <functional>
#include <memory>

#include "alphax/config.hpp"
#include "alphax/search/evaluator.hpp"
#include "alphax/search/search_space.hpp"

namespace alphax::app {

/// \brief The evaluator of `config.evaluator` for one trainer group (`group` is its communicator;
/// MPI_COMM_SELF for N = 1). Throws ConfigError/std::invalid_argument naming the key on bad input.
std::unique_ptr<search::Evaluator> make_evaluator(const RunConfig& config, const search::SearchSpace& space,
                                                  MPI_Comm group);

/// \brief The master's deterministic clock for `config.evaluator` (docs/app.md, "Determinism").
/// `table`: the table's simulated seconds, looked up at dispatch in `table` (rank 0's own
/// evaluator; null: only known when the result arrives, which makes a deterministic-order master
/// wait for every busy group); `train`: a cost model of the cell known at dispatch (see
/// train_cost_units), since measured seconds are not reproducible.
struct VirtualClock {
  std::function<double(const search::EvalResult&)> result_seconds;
  std::function<double(const search::Genome&)> dispatch_cost;
};
VirtualClock virtual_clock_for(const RunConfig& config, const search::SearchSpace& space,
                               search::Evaluator* table = nullptr);

/// \brief Cost units of training a cell: 4 (data, evaluation, head) + 9 per 3x3 convolution,
/// 25 per 5x5, 1 per 1x1 convolution or pooling, 0 for identity/none; a proxy of its training time.
double train_cost_units(const search::CellGraph& cell);

}  // namespace alphax::app
