#pragma once
/// \file
/// \brief `<output>/checkpoint.h5`: a StateArchive stored atomically as HDF5 groups and datasets.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "alphax/search/state_archive.hpp"

namespace alphax::app {

/// \brief Version of the checkpoint layout (root attribute `format_version`).
inline constexpr int kCheckpointFormatVersion = 1;

/// \brief FNV-1a over a canonical walk of the archive (names, types, bytes): the stored checksum.
std::uint64_t archive_checksum(const search::StateArchive& archive);

/// \brief Writes `archive` to a new HDF5 file at `path` (sub-archives -> groups, entries -> datasets
/// with a `kind` attribute f64/i64/u64/str), with format version, checksum and completion marker.
void write_archive_file(const std::filesystem::path& path, const search::StateArchive& archive);
/// \brief Reads what write_archive_file wrote; throws std::runtime_error naming the file and the
/// problem (not HDF5, truncated, wrong version, incomplete, checksum mismatch).
search::StateArchive read_archive_file(const std::filesystem::path& path);

/// \brief The two generations of checkpoint in a run directory: `checkpoint.h5` and `checkpoint.prev.h5`.
class CheckpointStore {
 public:
  explicit CheckpointStore(std::filesystem::path directory);

  /// \brief Writes `checkpoint.h5.tmp`, fsyncs it, keeps the old `checkpoint.h5` as
  /// `checkpoint.prev.h5`, renames the new file into place and fsyncs the directory.
  void save(const search::StateArchive& state) const;
  /// \brief State kept outside the master (the weight-transfer cache): `add` writes it into the
  /// archive's child `name` at every save().
  void add_section(std::string name, std::function<void(search::StateArchive&)> add);

  /// \brief What load_newest found.
  struct Loaded {
    search::StateArchive state;
    std::filesystem::path file;
    std::vector<std::string> rejected;  ///< one line per newer file that was unusable, and why
  };
  /// \brief The newest valid generation; nullopt when none exists; throws (listing each file and
  /// why it was rejected) when files exist but none is valid.
  std::optional<Loaded> load_newest() const;
  /// \brief Whether any generation exists on disk.
  bool any_exists() const;

  std::filesystem::path current() const { return directory_ / "checkpoint.h5"; }
  std::filesystem::path previous() const { return directory_ / "checkpoint.prev.h5"; }

 private:
  std::filesystem::path directory_;
  std::vector<std::pair<std::string, std::function<void(search::StateArchive&)>>> sections_;
};

}  // namespace alphax::app
