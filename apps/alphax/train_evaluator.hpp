#pragma once
/// \file
/// \brief The `train` evaluator: builds the proposed cell with lib/train and trains it on real data.
#include <mpi.h>

#include <memory>

#include "alphax/config.hpp"
#include "alphax/search/evaluator.hpp"
#include "alphax/search/search_space.hpp"

namespace alphax::app {

/// \brief A TrainEvaluator for the `evaluator:` section (`name: train`) running on `group`.
std::unique_ptr<search::Evaluator> make_train_evaluator(const RunConfig& config, const search::SearchSpace& space,
                                                        MPI_Comm group);

}  // namespace alphax::app
