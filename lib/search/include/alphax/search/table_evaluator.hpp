#pragma once
/// \file
/// \brief Replays a benchmark table (NAS-Bench-201/101 style CSV) as an Evaluator.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "alphax/search/evaluator.hpp"
#include "alphax/search/search_space.hpp"

namespace alphax::search {

/// \brief How long a simulated evaluation takes (for experiments on concurrency).
struct SimulatedTime {
  /// \brief none: no time (train_seconds = 0); constant: `value`; column: the table column
  /// `column`; uniform: U(a, b); exponential: mean `a`; lognormal: mu `a`, sigma `b`.
  enum class Kind { none, constant, column, uniform, exponential, lognormal };
  Kind kind = Kind::none;
  double a = 0.0;
  double b = 0.0;
  std::string column;
  std::uint64_t seed = 0;  ///< distributions draw from hash(seed, canonical hash): same arch, same time
};

/// \brief Which columns of the table mean what.
struct TableColumns {
  std::string key = "arch";                  ///< the space's arch string (SearchSpace::format/parse)
  std::string objective = "valid_accuracy";  ///< searched on (maximised)
  std::string report = "test_accuracy";      ///< reported only
};

/// \brief A CSV table (header line, comma separated, no quoted commas) turned into an Evaluator.
///
/// A genome is looked up by its formatted key first (every row keeps its own numbers, as in the
/// NAS-Bench-201 table where isomorphs were trained separately); a genome whose exact key is
/// not listed is answered by the first listed row of its canonical class. Errors (all std::runtime_error/invalid_argument naming file, line and column):
/// missing file, missing named column, empty table, a key the space cannot parse, the same class
/// listed twice with different values, an architecture not in the table (evaluate()).
class TableEvaluator final : public Evaluator {
 public:
  TableEvaluator(const std::filesystem::path& file, const SearchSpace& space, TableColumns columns,
                 SimulatedTime time = {});

  EvalResult evaluate(const SearchSpace& space, const Genome& genome) override;
  std::string name() const override { return "table"; }

  /// \brief Whether the table holds the class of `genome`.
  bool contains(const Genome& genome) const;
  /// \brief Number of distinct classes (canonical hashes) in the table.
  std::size_t num_classes() const { return rows_.size(); }
  /// \brief Number of data rows read.
  std::size_t num_rows() const { return num_rows_; }
  /// \brief The largest objective value in the table.
  double max_objective() const { return max_objective_; }
  /// \brief The largest report value in the table (the reference for regret).
  double max_report() const { return max_report_; }
  /// \brief The canonical hashes of every class in the table.
  std::vector<std::uint64_t> class_hashes() const;
  const std::filesystem::path& file() const { return file_; }

 private:
  struct Row {
    double objective = 0.0;
    double report = 0.0;
    double seconds = 0.0;
    std::string key;
  };
  const Row& row_of(const Genome& genome) const;

  std::filesystem::path file_;
  const SearchSpace* space_;
  TableColumns columns_;
  SimulatedTime time_;
  std::unordered_map<std::uint64_t, Row> rows_;        ///< by canonical hash (first row of a class)
  std::unordered_map<std::string, std::size_t> exact_;  ///< formatted key -> line number
  std::unordered_map<std::string, Row> exact_rows_;     ///< formatted key -> its own row
  std::size_t num_rows_ = 0;
  double max_objective_ = 0.0;
  double max_report_ = 0.0;
};

}  // namespace alphax::search
