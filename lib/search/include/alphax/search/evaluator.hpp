#pragma once
/// \file
/// \brief What an evaluation returns, and the interface of whatever pays for it (a table, training).
#include <cstdint>
#include <string>

#include "alphax/search/genome.hpp"

namespace alphax::search {

class SearchSpace;

/// \brief How an evaluation ended.
enum class EvalStatus : std::int32_t { ok = 0, diverged = 1, failed = 2 };

/// \brief "ok", "diverged", "failed".
const char* to_string(EvalStatus status);

/// \brief The outcome of evaluating one architecture.
struct EvalResult {
  EvalStatus status = EvalStatus::ok;
  double objective = 0.0;      ///< what the search maximises (validation accuracy, %), never test data
  double report = 0.0;         ///< reported only (test accuracy, %); never used to select
  std::int64_t params = 0;     ///< trainable parameters (0 when unknown)
  double flops = 0.0;          ///< forward FLOPs per sample (0 when unknown)
  double train_seconds = 0.0;  ///< wall (or simulated) cost of the evaluation
  std::string message;         ///< why it failed/diverged; empty when ok
};

/// \brief Something that turns an architecture into an EvalResult (TableEvaluator, TrainEvaluator, ...).
class Evaluator {
 public:
  virtual ~Evaluator() = default;
  /// \brief Evaluates `genome` of `space`. Must not throw for a bad *architecture* (report
  /// EvalStatus::failed instead); may throw for a broken evaluator (missing file, bad config).
  virtual EvalResult evaluate(const SearchSpace& space, const Genome& genome) = 0;
  /// \brief Short name for logs ("table", "train", "proxy").
  virtual std::string name() const = 0;
};

}  // namespace alphax::search
