#pragma once
/// \file
/// \brief The HDF5 search log `<output>/search.h5`: one row per finished evaluation, SWMR-readable.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "alphax/hdf5_handle.hpp"
#include "alphax/search/evaluator.hpp"

namespace alphax::app {

/// \brief Version of the layout of search.h5 (root attribute `schema_version`).
inline constexpr int kSearchLogSchemaVersion = 1;
/// \brief Longest architecture string a row holds (fixed-length, SWMR cannot append variable-length data).
inline constexpr std::size_t kArchChars = 512;
/// \brief Longest strategy name a row holds.
inline constexpr std::size_t kStrategyChars = 32;

/// \brief One finished evaluation, as the master records it.
struct EvaluationRecord {
  std::int64_t id = 0;                ///< evaluation id (0-based dispatch order)
  std::uint64_t canonical_hash = 0;   ///< SearchSpace::canonical_hash
  std::string arch;                   ///< SearchSpace::format
  std::string strategy;               ///< strategy name
  std::int32_t group = 0;             ///< trainer group that evaluated it (0-based)
  double dispatch_time = 0.0;         ///< wall seconds since the run began (continues across restarts)
  double finish_time = 0.0;           ///< wall seconds since the run began
  double virtual_finish = 0.0;        ///< the deterministic clock (see docs/app.md)
  double predicted = 0.0;             ///< strategy's estimate at dispatch
  double objective = 0.0;             ///< measured objective (validation accuracy)
  double report = 0.0;                ///< report metric (test accuracy), never used to select
  std::int64_t params = 0;
  double flops = 0.0;
  double train_seconds = 0.0;
  search::EvalStatus status = search::EvalStatus::ok;

  /// \brief Equal in everything but the wall-clock times (what restart equality compares).
  bool same_except_times(const EvaluationRecord& other) const;
};

/// \brief Root attributes written when a log is created (and refreshed on restart).
struct LogAttributes {
  std::string config_text;  ///< the effective YAML config
  int world_size = 1;
  int group_size = 1;
};

/// \brief Rank 0's append-only writer of search.h5, in SWMR mode so readers can follow it live.
class SearchLog {
 public:
  /// \brief Creates (or overwrites) `path` with an empty /evaluations table.
  static SearchLog create(const std::filesystem::path& path, const LogAttributes& attributes);
  /// \brief Opens an existing log for appending after keeping only its first `keep_rows` rows
  /// (the checkpoint's row count). Throws when the file is not a search log of this schema or
  /// holds fewer rows than `keep_rows`.
  static SearchLog reopen(const std::filesystem::path& path, const LogAttributes& attributes,
                          std::uint64_t keep_rows);
  /// \brief All rows of a log (a reader; works while a writer is active).
  static std::vector<EvaluationRecord> read_all(const std::filesystem::path& path);

  /// \brief Appends one row and flushes it to disk.
  void append(const EvaluationRecord& record);
  std::uint64_t rows() const { return rows_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  SearchLog(std::filesystem::path path, H5File file, H5Dataset dataset, std::uint64_t rows);
  static void write_attributes(hid_t file, const LogAttributes& attributes);

  std::filesystem::path path_;
  H5File file_;
  H5Dataset dataset_;
  H5Type file_type_;
  std::uint64_t rows_ = 0;
};

}  // namespace alphax::app
