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

/// \brief The length of an evaluation on the master's deterministic clock: the table's simulated
/// seconds for `table`; for `train` 1 + forward MFLOPs per image (measured seconds are not reproducible).
std::function<double(const search::EvalResult&)> virtual_clock_for(const RunConfig& config);

}  // namespace alphax::app
