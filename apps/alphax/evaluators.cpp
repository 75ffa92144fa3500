#include "alphax/evaluators.hpp"

#include "alphax/search/registry.hpp"
#include "alphax/train_evaluator.hpp"

namespace alphax::app {

std::unique_ptr<search::Evaluator> make_evaluator(const RunConfig& config, const search::SearchSpace& space,
                                                  MPI_Comm group) {
  const auto name = config.evaluator["name"].as<std::string>();
  if (name == "table") {
    // A relative table path is looked up in the working directory first, then beside the config.
    std::filesystem::path base;
    if (const YAML::Node file = config.evaluator["file"]; file && file.IsScalar()) {
      const std::filesystem::path path = file.as<std::string>();
      if (path.is_relative() && !std::filesystem::exists(path)) base = config.config_dir;
    }
    return search::make_table_evaluator(config.evaluator, space, base);
  }
  if (name == "train") return make_train_evaluator(config, space, group);
  throw ConfigError("evaluator.name: '" + name + "' is not one of table | train");
}

std::function<double(const search::EvalResult&)> virtual_clock_for(const RunConfig& config) {
  if (config.evaluator["name"].as<std::string>() == "table")
    return [](const search::EvalResult& r) { return r.train_seconds; };
  // Training time is not reproducible, but its main driver is: one unit of fixed cost (data,
  // evaluation) plus one per forward MFLOP per image. Cheap cells finish first on this clock as
  // they do on the wall clock, so groups rarely wait for a result the order says comes first.
  return [](const search::EvalResult& r) { return 1.0 + r.flops / 1e6; };
}

}  // namespace alphax::app
