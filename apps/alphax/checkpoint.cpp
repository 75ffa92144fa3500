#include "alphax/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <type_traits>

#include "alphax/hdf5_handle.hpp"

namespace alphax::app {
namespace {

using search::StateArchive;

struct Fnv {
  std::uint64_t h = 1469598103934665603ULL;
  void bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h ^= p[i];
      h *= 1099511628211ULL;
    }
  }
  void text(const std::string& s) {
    const std::uint64_t n = s.size();
    bytes(&n, sizeof n);
    bytes(s.data(), s.size());
  }
};

void checksum_into(Fnv& fnv, const StateArchive& archive) {
  for (const auto& [name, value] : archive.entries()) {
    fnv.text(name);
    const std::uint64_t tag = value.index();
    fnv.bytes(&tag, sizeof tag);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            fnv.text(v);
          } else {
            const std::uint64_t n = v.size();
            fnv.bytes(&n, sizeof n);
            fnv.bytes(v.data(), v.size() * sizeof(typename T::value_type));
          }
        },
        value);
  }
  for (const auto& [name, child] : archive.children()) {
    fnv.text("/" + name);
    checksum_into(fnv, child);
  }
}

void check_name(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == ".")
    throw std::runtime_error("checkpoint: state entry name '" + name + "' cannot be stored in HDF5 (empty, '.' or contains '/')");
}

template <typename T>
void write_array(hid_t group, const std::string& name, hid_t file_type, hid_t mem_type, const std::vector<T>& v,
                 const char* kind) {
  hsize_t dims[1] = {v.size()};
  H5Space space(H5Screate_simple(1, dims, nullptr), "H5Screate_simple " + name);
  H5Dataset dataset(H5Dcreate2(group, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                    "creating dataset " + name);
  if (!v.empty())
    h5_check(H5Dwrite(dataset.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "writing " + name);
  h5_write_string_attribute(dataset.get(), "kind", kind);
}

void write_group(hid_t group, const StateArchive& archive) {
  for (const auto& [name, value] : archive.entries()) {
    check_name(name);
    if (archive.children().count(name))
      throw std::runtime_error("checkpoint: '" + name + "' is both an entry and a sub-group of the state");
    std::visit(
        [&, &entry_name = name](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::vector<double>>) {
            write_array(group, entry_name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, "f64");
          } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
            write_array(group, entry_name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, "i64");
          } else if constexpr (std::is_same_v<T, std::vector<std::uint64_t>>) {
            write_array(group, entry_name, H5T_STD_U64LE, H5T_NATIVE_UINT64, v, "u64");
          } else {
            const std::vector<char> chars(v.begin(), v.end());
            write_array(group, entry_name, H5T_STD_I8LE, H5T_NATIVE_CHAR, chars, "str");
          }
        },
        value);
  }
  for (const auto& [name, child] : archive.children()) {
    check_name(name);
    H5Group sub(H5Gcreate2(group, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "creating group " + name);
    write_group(sub.get(), child);
  }
}

template <typename T>
std::vector<T> read_array(hid_t dataset, hid_t mem_type, const std::string& name) {
  H5Space space(H5Dget_space(dataset), "H5Dget_space " + name);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw std::runtime_error("HDF5: size of " + name + " unreadable");
  std::vector<T> v(static_cast<std::size_t>(n));
  if (n > 0) h5_check(H5Dread(dataset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "reading " + name);
  return v;
}

struct ReadContext {
  StateArchive* archive;
  std::string path;
};

herr_t read_member(hid_t group, const char* raw_name, const H5L_info_t* /*info*/, void* data);

void read_group(hid_t group, StateArchive& archive, const std::string& path) {
  ReadContext context{&archive, path};
  hsize_t index = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &index, read_member, &context) < 0)
    throw std::runtime_error("checkpoint: cannot read group '" + path + "' (file damaged?)");
}

herr_t read_member(hid_t group, const char* raw_name, const H5L_info_t* /*info*/, void* data) {
  auto& context = *static_cast<ReadContext*>(data);
  const std::string name = raw_name;
  const std::string path = context.path + "/" + name;
  try {
    H5O_info_t info;
    h5_check(H5Oget_info_by_name(group, raw_name, &info, H5P_DEFAULT), "H5Oget_info " + path);
    if (info.type == H5O_TYPE_GROUP) {
      H5Group sub(H5Gopen2(group, raw_name, H5P_DEFAULT), "opening group " + path);
      read_group(sub.get(), context.archive->child(name), path);
      return 0;
    }
    H5Dataset dataset(H5Dopen2(group, raw_name, H5P_DEFAULT), "opening dataset " + path);
    const std::string kind = h5_read_string_attribute(dataset.get(), "kind");
    if (kind == "f64") {
      context.archive->put(name, read_array<double>(dataset.get(), H5T_NATIVE_DOUBLE, path));
    } else if (kind == "i64") {
      context.archive->put(name, read_array<std::int64_t>(dataset.get(), H5T_NATIVE_INT64, path));
    } else if (kind == "u64") {
      context.archive->put(name, read_array<std::uint64_t>(dataset.get(), H5T_NATIVE_UINT64, path));
    } else if (kind == "str") {
      const auto chars = read_array<char>(dataset.get(), H5T_NATIVE_CHAR, path);
      context.archive->put(name, std::string(chars.begin(), chars.end()));
    } else {
      throw std::runtime_error("checkpoint: dataset " + path + " has unknown kind '" + kind + "'");
    }
    return 0;
  } catch (const std::exception& e) {
    context.path = e.what();  // carried out as the error message
    return -1;
  }
}

void fsync_path(const std::filesystem::path& path, bool directory) {
  const int fd = ::open(path.c_str(), directory ? O_RDONLY | O_DIRECTORY : O_RDONLY);
  if (fd < 0) throw std::runtime_error("checkpoint: cannot open " + path.string() + " to fsync: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0 && !directory)
    throw std::runtime_error("checkpoint: fsync of " + path.string() + " failed: " + std::strerror(errno));
}

}  // namespace

std::uint64_t archive_checksum(const StateArchive& archive) {
  Fnv fnv;
  checksum_into(fnv, archive);
  return fnv.h;
}

void write_archive_file(const std::filesystem::path& path, const StateArchive& archive) {
  h5_silence_errors();
  H5File file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT),
              "creating checkpoint " + path.string() + " (is the output directory writable?)");
  h5_write_int_attribute(file.get(), "format_version", kCheckpointFormatVersion);
  h5_write_string_attribute(file.get(), "alphax_version", ALPHAX_VERSION);
  h5_write_string_attribute(file.get(), "checksum", std::to_string(archive_checksum(archive)));
  H5Group state(H5Gcreate2(file.get(), "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "creating /state");
  write_group(state.get(), archive);
  state.reset();
  h5_write_int_attribute(file.get(), "complete", 1);
  h5_check(H5Fflush(file.get(), H5F_SCOPE_GLOBAL), "H5Fflush " + path.string());
}

StateArchive read_archive_file(const std::filesystem::path& path) {
  h5_silence_errors();
  if (!std::filesystem::exists(path)) throw std::runtime_error(path.string() + ": no such file");
  const hid_t raw = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (raw < 0) throw std::runtime_error(path.string() + ": not a readable HDF5 file (truncated or corrupt)");
  H5File file(raw, "H5Fopen");
  long long version = 0;
  try {
    version = h5_read_int_attribute(file.get(), "format_version");
  } catch (const std::exception&) {
    throw std::runtime_error(path.string() + ": no format_version attribute; not an alphax checkpoint");
  }
  if (version != kCheckpointFormatVersion)
    throw std::runtime_error(path.string() + ": checkpoint format version " + std::to_string(version) +
                             ", this alphax reads version " + std::to_string(kCheckpointFormatVersion) +
                             "; resume with the alphax that wrote it or start a new run");
  if (H5Aexists(file.get(), "complete") <= 0)
    throw std::runtime_error(path.string() + ": incomplete checkpoint (the writer died mid-way)");
  StateArchive archive;
  const hid_t raw_state = H5Gopen2(file.get(), "state", H5P_DEFAULT);
  if (raw_state < 0) throw std::runtime_error(path.string() + ": no /state group (corrupt checkpoint)");
  H5Group state(raw_state, "H5Gopen /state");
  ReadContext context{&archive, ""};
  hsize_t index = 0;
  if (H5Literate(state.get(), H5_INDEX_NAME, H5_ITER_INC, &index, read_member, &context) < 0)
    throw std::runtime_error(path.string() + ": cannot read the state (" + context.path + ")");
  const std::string stored = h5_read_string_attribute(file.get(), "checksum");
  if (stored != std::to_string(archive_checksum(archive)))
    throw std::runtime_error(path.string() + ": checksum mismatch (the file is corrupt)");
  return archive;
}

CheckpointStore::CheckpointStore(std::filesystem::path directory) : directory_(std::move(directory)) {}

void CheckpointStore::add_section(std::string name, std::function<void(StateArchive&)> add) {
  sections_.emplace_back(std::move(name), std::move(add));
}

void CheckpointStore::save(const StateArchive& state) const {
  const auto tmp = directory_ / "checkpoint.h5.tmp";
  if (sections_.empty()) {
    write_archive_file(tmp, state);
  } else {
    StateArchive full = state;
    for (const auto& [name, add] : sections_) add(full.child(name));
    write_archive_file(tmp, full);
  }
  fsync_path(tmp, false);
  std::error_code ec;
  if (std::filesystem::exists(current())) {
    std::filesystem::rename(current(), previous(), ec);
    if (ec) throw std::runtime_error("checkpoint: cannot keep " + current().string() + " as " + previous().string() + ": " + ec.message());
  }
  std::filesystem::rename(tmp, current(), ec);
  if (ec) throw std::runtime_error("checkpoint: cannot rename " + tmp.string() + " to " + current().string() + ": " + ec.message());
  fsync_path(directory_, true);
}

bool CheckpointStore::any_exists() const {
  return std::filesystem::exists(current()) || std::filesystem::exists(previous());
}

std::optional<CheckpointStore::Loaded> CheckpointStore::load_newest() const {
  if (!any_exists()) return std::nullopt;
  Loaded loaded;
  for (const auto& file : {current(), previous()}) {
    if (!std::filesystem::exists(file)) continue;
    try {
      loaded.state = read_archive_file(file);
      loaded.file = file;
      return loaded;
    } catch (const std::exception& e) {
      loaded.rejected.push_back(e.what());
    }
  }
  std::string message = "no usable checkpoint in " + directory_.string() + ":";
  for (const auto& line : loaded.rejected) message += "\n  " + line;
  message += "\nremove the directory (or pick another --output) to start over, or set run.restart: never";
  throw std::runtime_error(message);
}

}  // namespace alphax::app
