#include "alphax/search/state_archive.hpp"

#include <sstream>
#include <stdexcept>

namespace alphax::search {

namespace {
template <typename T>
const T& typed(const StateArchive::Value& value, std::string_view name, const char* type) {
  if (const auto* v = std::get_if<T>(&value)) return *v;
  throw std::runtime_error("StateArchive: entry '" + std::string(name) + "' is not of type " + type +
                           " (checkpoint written by another version?)");
}

template <typename T>
T single(const std::vector<T>& values, std::string_view name) {
  if (values.size() != 1)
    throw std::runtime_error("StateArchive: entry '" + std::string(name) + "' holds " +
                             std::to_string(values.size()) + " values, expected one");
  return values.front();
}
}  // namespace

void StateArchive::put(std::string_view name, Value value) {
  entries_.insert_or_assign(std::string(name), std::move(value));
}

const StateArchive::Value& StateArchive::entry(std::string_view name) const {
  auto it = entries_.find(name);
  if (it == entries_.end())
    throw std::runtime_error("StateArchive: missing entry '" + std::string(name) +
                             "' (checkpoint incomplete or written by another version)");
  return it->second;
}

const std::vector<double>& StateArchive::doubles(std::string_view name) const {
  return typed<std::vector<double>>(entry(name), name, "float64[]");
}
const std::vector<std::int64_t>& StateArchive::ints(std::string_view name) const {
  return typed<std::vector<std::int64_t>>(entry(name), name, "int64[]");
}
const std::vector<std::uint64_t>& StateArchive::uints(std::string_view name) const {
  return typed<std::vector<std::uint64_t>>(entry(name), name, "uint64[]");
}
const std::string& StateArchive::text(std::string_view name) const {
  return typed<std::string>(entry(name), name, "string");
}
double StateArchive::scalar_double(std::string_view name) const { return single(doubles(name), name); }
std::int64_t StateArchive::scalar_int(std::string_view name) const { return single(ints(name), name); }
std::uint64_t StateArchive::scalar_uint(std::string_view name) const { return single(uints(name), name); }

StateArchive& StateArchive::child(std::string_view name) {
  auto it = children_.find(name);
  if (it == children_.end()) it = children_.emplace(std::string(name), StateArchive{}).first;
  return it->second;
}

const StateArchive& StateArchive::child(std::string_view name) const {
  auto it = children_.find(name);
  if (it == children_.end())
    throw std::runtime_error("StateArchive: missing group '" + std::string(name) +
                             "' (checkpoint incomplete or written by another version)");
  return it->second;
}

bool StateArchive::has_entry(std::string_view name) const { return entries_.find(name) != entries_.end(); }
bool StateArchive::has_child(std::string_view name) const { return children_.find(name) != children_.end(); }

void save_rng(StateArchive& archive, std::string_view name, const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  archive.put(name, out.str());
}

void load_rng(const StateArchive& archive, std::string_view name, std::mt19937_64& rng) {
  std::istringstream in(archive.text(name));
  in >> rng;
  if (!in) throw std::runtime_error("StateArchive: entry '" + std::string(name) + "' is not a valid RNG state");
}

}  // namespace alphax::search
