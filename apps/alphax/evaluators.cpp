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

double train_cost_units(const search::CellGraph& cell) {
  const auto op_cost = [](const std::string& op) {
    if (op.find("conv") != std::string::npos) {
      if (op.find("5x5") != std::string::npos) return 25.0;
      if (op.find("3x3") != std::string::npos) return 9.0;
      return 1.0;
    }
    return op.find("pool") != std::string::npos ? 1.0 : 0.0;
  };
  double units = 4.0;
  for (const auto& edge : cell.edges) units += op_cost(edge.op);
  for (const auto& op : cell.node_ops) units += op_cost(op);
  return units;
}

VirtualClock virtual_clock_for(const RunConfig& config, const search::SearchSpace& space, search::Evaluator* table) {
  VirtualClock clock;
  if (config.evaluator["name"].as<std::string>() != "table") {
    clock.dispatch_cost = [&space](const search::Genome& genome) { return train_cost_units(space.to_cell(genome)); };
    return clock;
  }
  clock.result_seconds = [](const search::EvalResult& r) { return r.train_seconds; };
  if (table) {
    // A table lookup on rank 0 is cheap; an architecture the table lacks costs 0 (it fails at once).
    clock.dispatch_cost = [table, &space](const search::Genome& genome) {
      try {
        return table->evaluate(space, genome).train_seconds;
      } catch (const std::exception&) {
        return 0.0;
      }
    };
  }
  return clock;
}

}  // namespace alphax::app
