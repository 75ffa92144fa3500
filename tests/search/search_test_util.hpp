#pragma once
// Shared helpers of the lib/search tests: the repository's data directory, temporary files, a
// synthetic evaluator and a small YAML space factory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "alphax/search/evaluator.hpp"
#include "alphax/search/registry.hpp"
#include "alphax/search/search_space.hpp"
#include "alphax/search/spaces.hpp"

namespace alphax::search::testing {

/// The repository root (compiled in, so the tests never depend on the working directory).
inline std::filesystem::path source_dir() { return ALPHAX_TEST_SOURCE_DIR; }

inline std::filesystem::path nb201_table() { return source_dir() / "data/nb201/nb201_cifar10_12epoch.csv"; }

/// A fresh temporary directory per test.
inline std::filesystem::path fresh_directory() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() /
             ("alphax-search-" + std::string(info->test_suite_name()) + "-" + info->name() + "-" +
              std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::filesystem::path write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
  return file;
}

/// A deterministic objective on any space: a seeded random linear function of the encoding plus
/// products of neighbouring features, so predictors have structure to learn.
class SyntheticEvaluator final : public Evaluator {
 public:
  SyntheticEvaluator(const SearchSpace& space, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    linear_.resize(space.encoding_size());
    pair_.resize(space.encoding_size());
    for (auto& w : linear_) w = normal(rng);
    for (auto& w : pair_) w = 0.5 * normal(rng);
  }
  EvalResult evaluate(const SearchSpace& space, const Genome& genome) override {
    const auto x = space.encode(genome);
    double s = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) s += linear_[i] * x[i] + pair_[i] * x[i] * x[(i + 1) % x.size()];
    EvalResult r;
    r.objective = s;
    r.report = s;
    return r;
  }
  std::string name() const override { return "synthetic"; }

 private:
  std::vector<double> linear_, pair_;
};

inline std::unique_ptr<SearchSpace> space_from(const std::string& yaml) { return make_space(YAML::Load(yaml)); }

/// The three spaces the strategies must work on (the categorical one has uneven K_i).
inline std::vector<std::string> space_yamls() {
  return {"{name: nb201}", "{name: nb101}", "{name: categorical, choices: [3, 5, 2, 4, 3, 6]}"};
}

}  // namespace alphax::search::testing
