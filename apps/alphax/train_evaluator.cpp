#include "alphax/train_evaluator.hpp"

namespace alphax::app {

std::unique_ptr<search::Evaluator> make_train_evaluator(const RunConfig& /*config*/, const search::SearchSpace& /*space*/,
                                                        MPI_Comm /*group*/) {
  throw ConfigError("evaluator.name: 'train' needs lib/train's Trainer, which this build does not have yet; "
                    "use evaluator.name: table");
}

}  // namespace alphax::app
