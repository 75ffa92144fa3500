#pragma once
/// \file
/// \brief RAII owners for HDF5 identifiers (files, groups, datasets, dataspaces, types, lists).
#include <hdf5.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace alphax::app {

/// \brief Owns one hid_t and closes it with `Close` on destruction.
template <herr_t (*Close)(hid_t)>
class H5Handle {
 public:
  H5Handle() = default;
  /// \brief Takes ownership of `id`; throws naming `what` when `id` is invalid (< 0).
  H5Handle(hid_t id, const std::string& what) : id_(id) {
    if (id_ < 0) throw std::runtime_error("HDF5: " + what + " failed");
  }
  ~H5Handle() { reset(); }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  H5Handle(H5Handle&& other) noexcept : id_(std::exchange(other.id_, -1)) {}
  H5Handle& operator=(H5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, -1);
    }
    return *this;
  }
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// \brief Closes now (errors reported by the return value are ignored in destructors only).
  void reset() {
    if (id_ >= 0) Close(id_);
    id_ = -1;
  }

 private:
  hid_t id_ = -1;
};

using H5File = H5Handle<H5Fclose>;
using H5Group = H5Handle<H5Gclose>;
using H5Dataset = H5Handle<H5Dclose>;
using H5Space = H5Handle<H5Sclose>;
using H5Type = H5Handle<H5Tclose>;
using H5Plist = H5Handle<H5Pclose>;
using H5Attr = H5Handle<H5Aclose>;

/// \brief Throws std::runtime_error("HDF5: <what> failed") when `status` < 0.
inline void h5_check(herr_t status, const std::string& what) {
  if (status < 0) throw std::runtime_error("HDF5: " + what + " failed");
}

/// \brief Turns off HDF5's automatic error stack printing for this process (we throw instead).
void h5_silence_errors();

/// \brief Writes a scalar string attribute `name` on `object`.
void h5_write_string_attribute(hid_t object, const std::string& name, const std::string& value);
/// \brief Reads a string attribute (fixed or variable length); throws naming it when absent.
std::string h5_read_string_attribute(hid_t object, const std::string& name);
/// \brief Writes a scalar int64 attribute.
void h5_write_int_attribute(hid_t object, const std::string& name, long long value);
/// \brief Reads a scalar integer attribute; throws naming it when absent.
long long h5_read_int_attribute(hid_t object, const std::string& name);

}  // namespace alphax::app
