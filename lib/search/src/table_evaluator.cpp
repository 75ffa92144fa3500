#include "alphax/search/table_evaluator.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <stdexcept>

#include "alphax/search/spaces.hpp"

namespace alphax::search {

namespace {

std::string trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(first, last - first + 1));
}

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (true) {
    const auto comma = line.find(',', start);
    fields.push_back(trim(std::string_view(line).substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) return fields;
    start = comma + 1;
  }
}

std::size_t column_index(const std::vector<std::string>& header, const std::string& name, const std::string& role,
                         const std::string& where) {
  const auto it = std::find(header.begin(), header.end(), name);
  if (it != header.end()) return static_cast<std::size_t>(it - header.begin());
  std::string have;
  for (const auto& h : header) have += (have.empty() ? "" : ", ") + h;
  throw std::runtime_error(where + ": no column '" + name + "' (the evaluator's " + role +
                           " column); the header has: " + have + ". Fix evaluator." + role + " in the config.");
}

double number(const std::string& text, const std::string& where, const std::string& column) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && std::isfinite(v)) return v;
  } catch (const std::exception&) {
  }
  throw std::runtime_error(where + ": column '" + column + "' holds '" + text + "', not a finite number");
}

}  // namespace

TableEvaluator::TableEvaluator(const std::filesystem::path& file, const SearchSpace& space, TableColumns columns,
                               SimulatedTime time)
    : file_(file), space_(&space), columns_(std::move(columns)), time_(std::move(time)) {
  std::ifstream in(file_);
  if (!in)
    throw std::runtime_error("TableEvaluator: cannot open table '" + file_.string() +
                             "' (check evaluator.file; alphax looks a relative path up in the working directory, then beside the configuration file)");
  std::string line;
  if (!std::getline(in, line) || trim(line).empty())
    throw std::runtime_error("TableEvaluator: table '" + file_.string() + "' is empty (no header line)");
  const auto header = split_csv(line);
  const std::string where_header = "TableEvaluator: " + file_.string() + " header";
  const auto key_col = column_index(header, columns_.key, "key", where_header);
  const auto objective_col = column_index(header, columns_.objective, "objective", where_header);
  const auto report_col = column_index(header, columns_.report, "report", where_header);
  std::size_t time_col = 0;
  if (time_.kind == SimulatedTime::Kind::column)
    time_col = column_index(header, time_.column, "simulated_seconds.column", where_header);

  std::size_t line_number = 1;
  bool first = true;
  while (std::getline(in, line)) {
    ++line_number;
    if (trim(line).empty()) continue;
    const std::string where = "TableEvaluator: " + file_.string() + ":" + std::to_string(line_number);
    const auto fields = split_csv(line);
    if (fields.size() != header.size())
      throw std::runtime_error(where + ": " + std::to_string(fields.size()) + " fields, the header has " +
                               std::to_string(header.size()));
    Row row;
    Genome genome;
    try {
      genome = space_->parse(fields[key_col]);
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(where + ": key '" + fields[key_col] + "' is not an architecture of space '" +
                               space_->name() + "': " + e.what());
    }
    row.key = space_->format(genome);
    row.objective = number(fields[objective_col], where, columns_.objective);
    row.report = number(fields[report_col], where, columns_.report);
    if (time_.kind == SimulatedTime::Kind::column) row.seconds = number(fields[time_col], where, time_.column);
    if (const auto seen = exact_rows_.find(row.key); seen != exact_rows_.end()) {
      const Row& old = seen->second;
      if (old.objective != row.objective || old.report != row.report || old.seconds != row.seconds)
        throw std::runtime_error(where + ": key '" + fields[key_col] + "' is listed again (first on line " +
                                 std::to_string(exact_.at(row.key)) + ") with different values; remove one of them");
      continue;
    }
    exact_.emplace(row.key, line_number);
    exact_rows_.emplace(row.key, row);
    rows_.emplace(space_->canonical_hash(genome), row);
    max_objective_ = first ? row.objective : std::max(max_objective_, row.objective);
    max_report_ = first ? row.report : std::max(max_report_, row.report);
    first = false;
    ++num_rows_;
  }
  if (num_rows_ == 0)
    throw std::runtime_error("TableEvaluator: table '" + file_.string() + "' has a header but no rows");
}

const TableEvaluator::Row& TableEvaluator::row_of(const Genome& genome) const {
  const auto key = space_->format(genome);
  if (const auto it = exact_rows_.find(key); it != exact_rows_.end()) return it->second;
  if (const auto it = rows_.find(space_->canonical_hash(genome)); it != rows_.end()) return it->second;
  throw std::runtime_error("TableEvaluator: architecture '" + key + "' is not in table '" + file_.string() +
                           "' (neither it nor an isomorph is listed; the table does not cover the space)");
}

bool TableEvaluator::contains(const Genome& genome) const {
  return exact_rows_.count(space_->format(genome)) > 0 || rows_.count(space_->canonical_hash(genome)) > 0;
}

std::vector<std::uint64_t> TableEvaluator::class_hashes() const {
  std::vector<std::uint64_t> hashes;
  hashes.reserve(rows_.size());
  for (const auto& [h, row] : rows_) hashes.push_back(h);
  std::sort(hashes.begin(), hashes.end());
  return hashes;
}

EvalResult TableEvaluator::evaluate(const SearchSpace& space, const Genome& genome) {
  if (&space != space_ && space.name() != space_->name())
    throw std::invalid_argument("TableEvaluator::evaluate: table was loaded for space '" + space_->name() +
                                "', asked about space '" + space.name() + "'");
  if (!space_->is_valid(genome)) {
    EvalResult failed;
    failed.status = EvalStatus::failed;
    failed.message = "invalid architecture";
    return failed;
  }
  const Row& row = row_of(genome);
  EvalResult result;
  result.objective = row.objective;
  result.report = row.report;
  Rng rng(mix64(time_.seed ^ mix64(space_->canonical_hash(genome))));
  switch (time_.kind) {
    case SimulatedTime::Kind::none: break;
    case SimulatedTime::Kind::constant: result.train_seconds = time_.a; break;
    case SimulatedTime::Kind::column: result.train_seconds = row.seconds; break;
    case SimulatedTime::Kind::uniform:
      result.train_seconds = std::uniform_real_distribution<double>(time_.a, time_.b)(rng);
      break;
    case SimulatedTime::Kind::exponential:
      result.train_seconds = std::exponential_distribution<double>(1.0 / time_.a)(rng);
      break;
    case SimulatedTime::Kind::lognormal:
      result.train_seconds = std::lognormal_distribution<double>(time_.a, time_.b)(rng);
      break;
  }
  return result;
}

const char* to_string(EvalStatus status) {
  switch (status) {
    case EvalStatus::ok: return "ok";
    case EvalStatus::diverged: return "diverged";
    case EvalStatus::failed: return "failed";
  }
  return "unknown";
}

}  // namespace alphax::search
