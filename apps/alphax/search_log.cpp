#include "alphax/search_log.hpp"

#include <algorithm>
#include <cmath>
#include <array>
#include <cstring>
#include <stdexcept>

namespace alphax::app {
namespace {

// The in-memory image of one row; the HDF5 compound type is built from it with HOFFSET.
struct PackedRow {
  std::int64_t id;
  std::uint64_t canonical_hash;
  char arch[kArchChars];
  char strategy[kStrategyChars];
  std::int32_t group;
  std::int32_t status;
  double dispatch_time;
  double finish_time;
  double virtual_finish;
  double predicted;
  double objective;
  double report;
  std::int64_t params;
  double flops;
  double train_seconds;
};

H5Type fixed_string(std::size_t size) {
  H5Type type(H5Tcopy(H5T_C_S1), "H5Tcopy");
  h5_check(H5Tset_size(type.get(), size), "H5Tset_size");
  h5_check(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), "H5Tset_strpad");
  return type;
}

H5Type status_enum() {
  H5Type type(H5Tenum_create(H5T_NATIVE_INT32), "H5Tenum_create");
  for (auto status : {search::EvalStatus::ok, search::EvalStatus::diverged, search::EvalStatus::failed}) {
    const auto value = static_cast<std::int32_t>(status);
    h5_check(H5Tenum_insert(type.get(), search::to_string(status), &value), "H5Tenum_insert");
  }
  return type;
}

H5Type row_type() {
  H5Type type(H5Tcreate(H5T_COMPOUND, sizeof(PackedRow)), "H5Tcreate compound");
  const H5Type arch = fixed_string(kArchChars);
  const H5Type strategy = fixed_string(kStrategyChars);
  const H5Type status = status_enum();
  auto add = [&](const char* name, std::size_t offset, hid_t member) {
    h5_check(H5Tinsert(type.get(), name, offset, member), std::string("H5Tinsert ") + name);
  };
  add("id", HOFFSET(PackedRow, id), H5T_NATIVE_INT64);
  add("canonical_hash", HOFFSET(PackedRow, canonical_hash), H5T_NATIVE_UINT64);
  add("arch", HOFFSET(PackedRow, arch), arch.get());
  add("strategy", HOFFSET(PackedRow, strategy), strategy.get());
  add("group", HOFFSET(PackedRow, group), H5T_NATIVE_INT32);
  add("status", HOFFSET(PackedRow, status), status.get());
  add("dispatch_time", HOFFSET(PackedRow, dispatch_time), H5T_NATIVE_DOUBLE);
  add("finish_time", HOFFSET(PackedRow, finish_time), H5T_NATIVE_DOUBLE);
  add("virtual_finish", HOFFSET(PackedRow, virtual_finish), H5T_NATIVE_DOUBLE);
  add("predicted", HOFFSET(PackedRow, predicted), H5T_NATIVE_DOUBLE);
  add("objective", HOFFSET(PackedRow, objective), H5T_NATIVE_DOUBLE);
  add("report", HOFFSET(PackedRow, report), H5T_NATIVE_DOUBLE);
  add("params", HOFFSET(PackedRow, params), H5T_NATIVE_INT64);
  add("flops", HOFFSET(PackedRow, flops), H5T_NATIVE_DOUBLE);
  add("train_seconds", HOFFSET(PackedRow, train_seconds), H5T_NATIVE_DOUBLE);
  return type;
}

template <std::size_t N>
void copy_text(char (&out)[N], const std::string& text, const char* field) {
  if (text.size() >= N)
    throw std::runtime_error(std::string("SearchLog::append: ") + field + " '" + text + "' is longer than " +
                             std::to_string(N - 1) + " characters; shorten it (or raise the log's field size)");
  std::memset(out, 0, N);
  std::memcpy(out, text.data(), text.size());
}

PackedRow pack(const EvaluationRecord& r) {
  PackedRow row{};
  row.id = r.id;
  row.canonical_hash = r.canonical_hash;
  copy_text(row.arch, r.arch, "arch");
  copy_text(row.strategy, r.strategy, "strategy");
  row.group = r.group;
  row.status = static_cast<std::int32_t>(r.status);
  row.dispatch_time = r.dispatch_time;
  row.finish_time = r.finish_time;
  row.virtual_finish = r.virtual_finish;
  row.predicted = r.predicted;
  row.objective = r.objective;
  row.report = r.report;
  row.params = r.params;
  row.flops = r.flops;
  row.train_seconds = r.train_seconds;
  return row;
}

EvaluationRecord unpack(const PackedRow& row) {
  EvaluationRecord r;
  r.id = row.id;
  r.canonical_hash = row.canonical_hash;
  r.arch.assign(row.arch, strnlen(row.arch, kArchChars));
  r.strategy.assign(row.strategy, strnlen(row.strategy, kStrategyChars));
  r.group = row.group;
  r.status = static_cast<search::EvalStatus>(row.status);
  r.dispatch_time = row.dispatch_time;
  r.finish_time = row.finish_time;
  r.virtual_finish = row.virtual_finish;
  r.predicted = row.predicted;
  r.objective = row.objective;
  r.report = row.report;
  r.params = row.params;
  r.flops = row.flops;
  r.train_seconds = row.train_seconds;
  return r;
}

H5Plist latest_format_access() {
  H5Plist fapl(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate fapl");
  h5_check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST), "H5Pset_libver_bounds");
  return fapl;
}

std::uint64_t dataset_rows(hid_t dataset) {
  H5Space space(H5Dget_space(dataset), "H5Dget_space /evaluations");
  hsize_t dims[1] = {0};
  h5_check(H5Sget_simple_extent_dims(space.get(), dims, nullptr), "H5Sget_simple_extent_dims");
  return dims[0];
}

}  // namespace

bool EvaluationRecord::same_except_times(const EvaluationRecord& o) const {
  const auto same = [](double a, double b) { return a == b || (std::isnan(a) && std::isnan(b)); };
  return id == o.id && canonical_hash == o.canonical_hash && arch == o.arch && strategy == o.strategy &&
         group == o.group && same(virtual_finish, o.virtual_finish) && same(predicted, o.predicted) &&
         same(objective, o.objective) && same(report, o.report) && params == o.params && same(flops, o.flops) &&
         status == o.status;  // train_seconds is measured wall time for real training: excluded
}

SearchLog::SearchLog(std::filesystem::path path, H5File file, H5Dataset dataset, std::uint64_t rows)
    : path_(std::move(path)), file_(std::move(file)), dataset_(std::move(dataset)), file_type_(row_type()),
      rows_(rows) {}

void SearchLog::write_attributes(hid_t file, const LogAttributes& attributes) {
  h5_write_int_attribute(file, "schema_version", kSearchLogSchemaVersion);
  h5_write_string_attribute(file, "alphax_version", ALPHAX_VERSION);
  h5_write_string_attribute(file, "config", attributes.config_text);
  h5_write_int_attribute(file, "world_size", attributes.world_size);
  h5_write_int_attribute(file, "group_size", attributes.group_size);
}

SearchLog SearchLog::create(const std::filesystem::path& path, const LogAttributes& attributes) {
  h5_silence_errors();
  const H5Plist fapl = latest_format_access();
  H5File file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()),
              "creating search log " + path.string() + " (is the output directory writable?)");
  write_attributes(file.get(), attributes);
  hsize_t dims[1] = {0};
  hsize_t max_dims[1] = {H5S_UNLIMITED};
  H5Space space(H5Screate_simple(1, dims, max_dims), "H5Screate_simple");
  H5Plist dcpl(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate dcpl");
  hsize_t chunk[1] = {64};
  h5_check(H5Pset_chunk(dcpl.get(), 1, chunk), "H5Pset_chunk");
  const H5Type type = row_type();
  H5Dataset dataset(H5Dcreate2(file.get(), "/evaluations", type.get(), space.get(), H5P_DEFAULT, dcpl.get(),
                               H5P_DEFAULT),
                    "creating /evaluations in " + path.string());
  h5_check(H5Fstart_swmr_write(file.get()), "H5Fstart_swmr_write " + path.string());
  return SearchLog(path, std::move(file), std::move(dataset), 0);
}

SearchLog SearchLog::reopen(const std::filesystem::path& path, const LogAttributes& attributes,
                            std::uint64_t keep_rows) {
  h5_silence_errors();
  const H5Plist fapl = latest_format_access();
  H5File file(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()),
              "opening search log " + path.string() + " for appending (is it a search.h5 of alphax?)");
  const long long version = h5_read_int_attribute(file.get(), "schema_version");
  if (version != kSearchLogSchemaVersion)
    throw std::runtime_error("SearchLog::reopen: " + path.string() + " has schema version " +
                             std::to_string(version) + ", this alphax writes " +
                             std::to_string(kSearchLogSchemaVersion) + "; start a new run in a new output directory");
  write_attributes(file.get(), attributes);
  H5Dataset dataset(H5Dopen2(file.get(), "/evaluations", H5P_DEFAULT), "opening /evaluations in " + path.string());
  const std::uint64_t rows = dataset_rows(dataset.get());
  if (rows < keep_rows)
    throw std::runtime_error("SearchLog::reopen: " + path.string() + " holds " + std::to_string(rows) +
                             " rows but the checkpoint recorded " + std::to_string(keep_rows) +
                             "; the log was truncated or replaced: restore it or start a new run");
  hsize_t dims[1] = {keep_rows};
  h5_check(H5Dset_extent(dataset.get(), dims), "truncating /evaluations");
  h5_check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "H5Fflush");
  h5_check(H5Fstart_swmr_write(file.get()), "H5Fstart_swmr_write " + path.string());
  return SearchLog(path, std::move(file), std::move(dataset), keep_rows);
}

void SearchLog::append(const EvaluationRecord& record) {
  const PackedRow row = pack(record);
  hsize_t new_dims[1] = {rows_ + 1};
  h5_check(H5Dset_extent(dataset_.get(), new_dims), "extending /evaluations");
  H5Space file_space(H5Dget_space(dataset_.get()), "H5Dget_space");
  hsize_t start[1] = {rows_};
  hsize_t count[1] = {1};
  h5_check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
           "H5Sselect_hyperslab");
  H5Space mem_space(H5Screate_simple(1, count, nullptr), "H5Screate_simple");
  h5_check(H5Dwrite(dataset_.get(), file_type_.get(), mem_space.get(), file_space.get(), H5P_DEFAULT, &row),
           "writing a row of /evaluations in " + path_.string());
  h5_check(H5Dflush(dataset_.get()), "H5Dflush /evaluations");
  ++rows_;
}

std::vector<EvaluationRecord> SearchLog::read_all(const std::filesystem::path& path) {
  h5_silence_errors();
  const H5Plist fapl = latest_format_access();
  H5File file(H5Fopen(path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, fapl.get()),
              "opening search log " + path.string());
  H5Dataset dataset(H5Dopen2(file.get(), "/evaluations", H5P_DEFAULT), "opening /evaluations in " + path.string());
  const std::uint64_t rows = dataset_rows(dataset.get());
  std::vector<PackedRow> packed(rows);
  const H5Type type = row_type();
  if (rows > 0)
    h5_check(H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, packed.data()),
             "reading /evaluations of " + path.string());
  std::vector<EvaluationRecord> out;
  out.reserve(rows);
  for (const auto& row : packed) out.push_back(unpack(row));
  return out;
}

}  // namespace alphax::app
