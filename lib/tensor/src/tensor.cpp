#include "alphax/tensor/tensor.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace alphax::tensor {

Shape::Shape(std::initializer_list<std::int64_t> dims)
    : Shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::int64_t> dims) {
  if (dims.size() > static_cast<std::size_t>(kMaxRank)) {
    throw std::invalid_argument("alphax::tensor::Shape: rank " + std::to_string(dims.size()) +
                                " exceeds the maximum of " + std::to_string(kMaxRank));
  }
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) {
      throw std::invalid_argument("alphax::tensor::Shape: dimension " + std::to_string(i) + " is negative (" +
                                  std::to_string(dims[i]) + "); every dimension must be >= 0");
    }
    dims_[i] = dims[i];
  }
  rank_ = static_cast<int>(dims.size());
}

std::int64_t Shape::size() const noexcept {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

std::string Shape::to_string() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  return s + "]";
}

bool operator==(const Shape& a, const Shape& b) noexcept {
  return a.rank_ == b.rank_ && std::equal(a.dims_.begin(), a.dims_.begin() + a.rank_, b.dims_.begin());
}

void require_shape(const char* where, const char* what, const Shape& actual, const Shape& expected) {
  if (!(actual == expected)) {
    throw std::invalid_argument(std::string(where) + ": " + what + " has shape " + actual.to_string() +
                                ", expected " + expected.to_string());
  }
}

template <Scalar T>
BasicTensor<T>::BasicTensor(const Shape& shape)
    : storage_(allocate_aligned<T>(static_cast<std::size_t>(shape.size()))),
      data_(storage_.get()),
      shape_(shape) {}

template <Scalar T>
BasicTensor<T> BasicTensor<T>::view(T* data, const Shape& shape) {
  if (data == nullptr && shape.size() > 0) {
    throw std::invalid_argument("alphax::tensor::BasicTensor::view: null data pointer for shape " +
                                shape.to_string());
  }
  BasicTensor t;
  t.data_ = data;
  t.shape_ = shape;
  return t;
}

template <Scalar T>
BasicTensor<T>::BasicTensor(BasicTensor&& other) noexcept
    : storage_(std::move(other.storage_)), data_(other.data_), shape_(other.shape_) {
  other.data_ = nullptr;
  other.shape_ = Shape();
}

template <Scalar T>
BasicTensor<T>& BasicTensor<T>::operator=(BasicTensor&& other) noexcept {
  if (this != &other) {
    storage_ = std::move(other.storage_);
    data_ = other.data_;
    shape_ = other.shape_;
    other.data_ = nullptr;
    other.shape_ = Shape();
  }
  return *this;
}

template <Scalar T>
BasicTensor<T> BasicTensor<T>::clone() const {
  BasicTensor copy(shape_);
  if (size() > 0) std::memcpy(copy.data_, data_, static_cast<std::size_t>(size()) * sizeof(T));
  return copy;
}

template <Scalar T>
BasicTensor<T> BasicTensor<T>::reshaped(const Shape& shape) {
  if (shape.size() != shape_.size()) {
    throw std::invalid_argument("alphax::tensor::BasicTensor::reshaped: cannot view shape " +
                                shape_.to_string() + " as " + shape.to_string() + " (element counts differ)");
  }
  return view(data_, shape);
}

template <Scalar T>
void BasicTensor<T>::fill(T value) noexcept {
  std::fill(data_, data_ + size(), value);
}

template <Scalar T>
void BasicTensor<T>::copy_from(const BasicTensor& src) {
  if (src.size() != size()) {
    throw std::invalid_argument("alphax::tensor::BasicTensor::copy_from: source has shape " +
                                src.shape().to_string() + ", destination " + shape_.to_string() +
                                " (element counts differ)");
  }
  if (size() > 0 && src.data_ != data_)
    std::memcpy(data_, src.data_, static_cast<std::size_t>(size()) * sizeof(T));
}

template class BasicTensor<float>;
template class BasicTensor<double>;

}  // namespace alphax::tensor
