#pragma once
/// \file
/// \brief A tree of named, typed arrays: how strategies save and load their whole state.
///
/// lib/search stays free of HDF5: strategies write their state into a StateArchive, and the
/// application maps archives one-to-one onto HDF5 groups (sub-archives -> groups, entries ->
/// datasets). Every value round-trips bit-exactly.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <random>
#include <variant>
#include <vector>

namespace alphax::search {

/// \brief A group of named entries (float64, int64 or uint64 arrays, strings) and named sub-groups.
class StateArchive {
 public:
  using Value = std::variant<std::vector<double>, std::vector<std::int64_t>,
                             std::vector<std::uint64_t>, std::string>;

  /// \brief Store (or replace) an entry.
  void put(std::string_view name, Value value);
  /// \brief Convenience: one double / int64 / uint64 / string.
  void put_scalar(std::string_view name, double v) { put(name, std::vector<double>{v}); }
  void put_scalar(std::string_view name, std::int64_t v) { put(name, std::vector<std::int64_t>{v}); }
  void put_scalar(std::string_view name, std::uint64_t v) { put(name, std::vector<std::uint64_t>{v}); }

  /// \brief Typed access; throws std::runtime_error naming the entry if missing or of another type.
  const std::vector<double>& doubles(std::string_view name) const;
  const std::vector<std::int64_t>& ints(std::string_view name) const;
  const std::vector<std::uint64_t>& uints(std::string_view name) const;
  const std::string& text(std::string_view name) const;
  double scalar_double(std::string_view name) const;
  std::int64_t scalar_int(std::string_view name) const;
  std::uint64_t scalar_uint(std::string_view name) const;

  /// \brief The sub-group `name`, created if absent.
  StateArchive& child(std::string_view name);
  /// \brief The sub-group `name`; throws if absent.
  const StateArchive& child(std::string_view name) const;

  bool has_entry(std::string_view name) const;
  bool has_child(std::string_view name) const;
  const std::map<std::string, Value, std::less<>>& entries() const { return entries_; }
  const std::map<std::string, StateArchive, std::less<>>& children() const { return children_; }

  friend bool operator==(const StateArchive&, const StateArchive&) = default;

 private:
  const Value& entry(std::string_view name) const;
  std::map<std::string, Value, std::less<>> entries_;
  std::map<std::string, StateArchive, std::less<>> children_;
};

/// \brief Saves an engine's full state as text (std::mt19937_64's stream form is exact).
void save_rng(StateArchive& archive, std::string_view name, const std::mt19937_64& rng);
/// \brief Restores what save_rng wrote.
void load_rng(const StateArchive& archive, std::string_view name, std::mt19937_64& rng);

}  // namespace alphax::search
