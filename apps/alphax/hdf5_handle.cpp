#include "alphax/hdf5_handle.hpp"

#include <vector>

namespace alphax::app {

void h5_silence_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

void h5_write_string_attribute(hid_t object, const std::string& name, const std::string& value) {
  H5Type type(H5Tcopy(H5T_C_S1), "H5Tcopy");
  h5_check(H5Tset_size(type.get(), value.empty() ? 1 : value.size()), "H5Tset_size");
  h5_check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), "H5Tset_strpad");
  H5Space space(H5Screate(H5S_SCALAR), "H5Screate");
  if (H5Aexists(object, name.c_str()) > 0) h5_check(H5Adelete(object, name.c_str()), "H5Adelete " + name);
  H5Attr attr(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
              "creating attribute " + name);
  const std::string padded = value.empty() ? std::string(1, '\0') : value;
  h5_check(H5Awrite(attr.get(), type.get(), padded.data()), "writing attribute " + name);
}

std::string h5_read_string_attribute(hid_t object, const std::string& name) {
  if (H5Aexists(object, name.c_str()) <= 0) throw std::runtime_error("HDF5: attribute '" + name + "' is missing");
  H5Attr attr(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute " + name);
  H5Type type(H5Aget_type(attr.get()), "H5Aget_type " + name);
  if (H5Tget_class(type.get()) != H5T_STRING) throw std::runtime_error("HDF5: attribute '" + name + "' is not a string");
  if (H5Tis_variable_str(type.get()) > 0) {
    H5Type mem(H5Tcopy(H5T_C_S1), "H5Tcopy");
    h5_check(H5Tset_size(mem.get(), H5T_VARIABLE), "H5Tset_size");
    char* text = nullptr;
    h5_check(H5Aread(attr.get(), mem.get(), &text), "reading attribute " + name);
    std::string out = text ? text : "";
    H5free_memory(text);
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::vector<char> buffer(size + 1, '\0');
  h5_check(H5Aread(attr.get(), type.get(), buffer.data()), "reading attribute " + name);
  std::string out(buffer.data(), size);
  while (!out.empty() && out.back() == '\0') out.pop_back();
  return out;
}

void h5_write_int_attribute(hid_t object, const std::string& name, long long value) {
  H5Space space(H5Screate(H5S_SCALAR), "H5Screate");
  if (H5Aexists(object, name.c_str()) > 0) h5_check(H5Adelete(object, name.c_str()), "H5Adelete " + name);
  H5Attr attr(H5Acreate2(object, name.c_str(), H5T_STD_I64LE, space.get(), H5P_DEFAULT, H5P_DEFAULT),
              "creating attribute " + name);
  h5_check(H5Awrite(attr.get(), H5T_NATIVE_LLONG, &value), "writing attribute " + name);
}

long long h5_read_int_attribute(hid_t object, const std::string& name) {
  if (H5Aexists(object, name.c_str()) <= 0) throw std::runtime_error("HDF5: attribute '" + name + "' is missing");
  H5Attr attr(H5Aopen(object, name.c_str(), H5P_DEFAULT), "opening attribute " + name);
  long long value = 0;
  h5_check(H5Aread(attr.get(), H5T_NATIVE_LLONG, &value), "reading attribute " + name);
  return value;
}

}  // namespace alphax::app
