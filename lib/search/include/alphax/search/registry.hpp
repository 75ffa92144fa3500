#pragma once
/// \file
/// \brief Builds spaces, strategies and table evaluators by name from YAML sections.
///
/// The application and `alphax bench search` go through these three functions only:
/// ```yaml
/// space:     {name: nb201}                      # nb201 | nb101 | categorical
/// strategy:  {name: mcts, cp: 0.5}              # random | evolution | mcts | lanas
/// evaluator: {name: table, file: data/nb201/nb201_cifar10_12epoch.csv, key: arch,
///             objective: valid_accuracy, report: test_accuracy}
/// ```
/// Unknown names or keys throw std::invalid_argument naming the key path and the valid choices.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "alphax/search/search_space.hpp"
#include "alphax/search/search_strategy.hpp"
#include "alphax/search/table_evaluator.hpp"

namespace alphax::search {

/// \brief The space named by `space_node["name"]` ("nb201", "nb101", "categorical").
std::unique_ptr<SearchSpace> make_space(const YAML::Node& space_node);

/// \brief The strategy named by `strategy_node["name"]` ("random", "evolution", "mcts", "lanas"),
/// configured by the node's other keys; every random choice derives from `seed`.
/// `space` must outlive the strategy.
std::unique_ptr<SearchStrategy> make_strategy(const YAML::Node& strategy_node, const SearchSpace& space,
                                              std::uint64_t seed);

/// \brief A TableEvaluator from `evaluator_node` (`name: table`, `file`, `key`, `objective`,
/// `report`, optional `simulated_seconds`). A relative `file` is resolved against `base_dir`
/// when that is not empty, else against the working directory. `space` must outlive it.
std::unique_ptr<TableEvaluator> make_table_evaluator(const YAML::Node& evaluator_node, const SearchSpace& space,
                                                     const std::filesystem::path& base_dir = {});

/// \brief The registered space names, in documentation order.
std::vector<std::string> space_names();
/// \brief The registered strategy names, in documentation order.
std::vector<std::string> strategy_names();

}  // namespace alphax::search
