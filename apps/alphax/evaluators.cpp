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
  return [](const search::EvalResult&) { return 1.0; };
}

}  // namespace alphax::app
