#include "alphax/search/registry.hpp"

#include <stdexcept>

#include "alphax/search/spaces.hpp"
#include "alphax/search/strategies.hpp"
#include "config_reader.hpp"

namespace alphax::search {

namespace {

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

std::string name_of(const YAML::Node& node, const std::string& section, const std::vector<std::string>& valid) {
  if (!node || !node.IsMap())
    throw std::invalid_argument(section + ": missing or not a map; write e.g. `" + section + ": {name: " +
                                valid.front() + "}` (valid names: " + joined(valid) + ")");
  if (!node["name"])
    throw std::invalid_argument(section + ".name: missing (valid names: " + joined(valid) + ")");
  const auto name = node["name"].as<std::string>();
  for (const auto& v : valid)
    if (v == name) return name;
  throw std::invalid_argument(section + ".name: unknown " + section + " '" + name + "' (valid names: " + joined(valid) +
                              ")");
}

SurrogateConfig read_surrogate(ConfigReader& r, const SurrogateConfig& defaults) {
  SurrogateConfig c = defaults;
  c.initial_random = r.get_int("initial_random", c.initial_random, 1);
  c.candidates = r.get_int("candidates", c.candidates, 1);
  c.local_fraction = r.get_double("local_fraction", c.local_fraction, 0.0);
  if (c.local_fraction > 1.0) throw std::invalid_argument("strategy.local_fraction: must be in [0, 1]");
  c.elite = r.get_int("elite", c.elite, 1);
  c.elite_distance = r.get_int("elite_distance", c.elite_distance, 0);
  c.neighbourhoods = r.get_int("neighbourhoods", c.neighbourhoods, 0);
  c.incumbent_first = r.get_bool("incumbent_first", c.incumbent_first);
  c.kappa = r.get_double("kappa", c.kappa, 0.0);
  c.thompson = r.get_bool("thompson", c.thompson);
  c.thompson_in_flight = r.get_double("thompson_in_flight", c.thompson_in_flight, 0.0);
  if (c.thompson_in_flight > 1.0) throw std::invalid_argument("strategy.thompson_in_flight: must be in [0, 1]");
  c.predictor = PredictorConfig::from_yaml(r.get_node("predictor"), "strategy.predictor", defaults.predictor);
  return c;
}

}  // namespace

std::vector<std::string> space_names() { return {"nb201", "nb101", "categorical"}; }
std::vector<std::string> strategy_names() { return {"random", "evolution", "mcts", "lanas"}; }

std::unique_ptr<SearchSpace> make_space(const YAML::Node& space_node) {
  const auto name = name_of(space_node, "space", space_names());
  if (name == "categorical") return std::make_unique<CategoricalSpace>(CategoricalSpace::from_yaml(space_node));
  ConfigReader r(space_node, "space");
  r.allow("name");
  if (name == "nb201") {
    const auto sample = r.get_string("sample", "classes");
    if (sample != "classes" && sample != "cells")
      throw std::invalid_argument("space.sample: '" + sample +
                                  "' is not a sampling of nb201; write `classes` (uniform over the 6,466 distinct "
                                  "cells, the default) or `cells` (a uniform op per edge)");
    r.check_unknown();
    return std::make_unique<Nb201Space>(sample == "cells" ? Nb201Space::Sampling::cells : Nb201Space::Sampling::classes);
  }
  r.check_unknown();
  return std::make_unique<Nb101Space>();
}

std::unique_ptr<SearchStrategy> make_strategy(const YAML::Node& strategy_node, const SearchSpace& space,
                                              std::uint64_t seed) {
  const auto name = name_of(strategy_node, "strategy", strategy_names());
  ConfigReader r(strategy_node, "strategy");
  r.allow("name");
  std::unique_ptr<SearchStrategy> strategy;
  if (name == "random") {
    strategy = std::make_unique<RandomSearch>(space, seed);
  } else if (name == "evolution") {
    EvolutionConfig c;
    c.population = r.get_int("population", c.population, 1);
    c.tournament = r.get_int("tournament", c.tournament, 1);
    c.stall_limit = r.get_int("stall_limit", c.stall_limit, 0);
    if (c.tournament > c.population)
      throw std::invalid_argument("strategy.tournament: must not exceed strategy.population");
    strategy = std::make_unique<RegularizedEvolution>(space, c, seed);
  } else if (name == "mcts") {
    MctsConfig c;
    c.cp = r.get_double("cp", c.cp, 0.0);
    c.preemptive = r.get_bool("preemptive", c.preemptive);
    c.mean_value = r.get_bool("mean_value", c.mean_value);
    c.rollout_candidates = r.get_int("rollout_candidates", c.rollout_candidates, 1);
    c.surrogate = read_surrogate(r, c.surrogate);
    strategy = std::make_unique<MctsStrategy>(space, c, seed);
  } else {
    LanasConfig c;
    c.max_depth = r.get_int("max_depth", c.max_depth, 0);
    c.min_split = r.get_int("min_split", c.min_split, 2);
    c.cp = r.get_double("cp", c.cp, 0.0);
    c.ridge = r.get_double("ridge", c.ridge, 0.0);
    c.rebuild_every = r.get_int("rebuild_every", c.rebuild_every, 1);
    c.rebuild_growth = r.get_double("rebuild_growth", c.rebuild_growth, 0.0);
    c.max_tries = r.get_int("max_tries", c.max_tries, 1);
    c.surrogate = read_surrogate(r, c.surrogate);
    strategy = std::make_unique<LanasStrategy>(space, c, seed);
  }
  r.check_unknown();
  return strategy;
}

std::unique_ptr<TableEvaluator> make_table_evaluator(const YAML::Node& evaluator_node, const SearchSpace& space,
                                                     const std::filesystem::path& base_dir) {
  name_of(evaluator_node, "evaluator", {"table"});
  ConfigReader r(evaluator_node, "evaluator");
  r.allow("name");
  const auto file = r.get_string("file", "");
  if (file.empty())
    throw std::invalid_argument("evaluator.file: missing; name the table, e.g. data/nb201/nb201_cifar10_12epoch.csv");
  TableColumns columns;
  columns.key = r.get_string("key", columns.key);
  columns.objective = r.get_string("objective", columns.objective);
  columns.report = r.get_string("report", columns.report);
  SimulatedTime time;
  if (const auto t = r.get_node("simulated_seconds")) {
    if (t.IsScalar()) {
      time.kind = SimulatedTime::Kind::constant;
      try {
        time.a = t.as<double>();
      } catch (const YAML::Exception&) {
        throw std::invalid_argument("evaluator.simulated_seconds: '" + t.as<std::string>() +
                                    "' is not a number (or give a map with column/distribution)");
      }
    } else {
      ConfigReader tr(t, "evaluator.simulated_seconds");
      const auto column = tr.get_string("column", "");
      const auto distribution = tr.get_string("distribution", "");
      time.seed = static_cast<std::uint64_t>(tr.get_int("seed", 0, 0));
      if (!column.empty()) {
        time.kind = SimulatedTime::Kind::column;
        time.column = column;
      } else if (distribution == "uniform") {
        time.kind = SimulatedTime::Kind::uniform;
        time.a = tr.get_double("min", 0.0, 0.0);
        time.b = tr.get_double("max", 1.0, time.a);
      } else if (distribution == "exponential") {
        time.kind = SimulatedTime::Kind::exponential;
        time.a = tr.get_double("mean", 1.0, 1e-12);
      } else if (distribution == "lognormal") {
        time.kind = SimulatedTime::Kind::lognormal;
        time.a = tr.get_double("mu", 0.0, -1e300);
        time.b = tr.get_double("sigma", 1.0, 0.0);
      } else {
        throw std::invalid_argument("evaluator.simulated_seconds: give `column: <name>` or `distribution:` one of "
                                    "uniform (min, max), exponential (mean), lognormal (mu, sigma)");
      }
      tr.check_unknown();
    }
  }
  r.check_unknown();
  std::filesystem::path path(file);
  if (path.is_relative() && !base_dir.empty()) path = base_dir / path;
  return std::make_unique<TableEvaluator>(path, space, columns, time);
}

}  // namespace alphax::search
