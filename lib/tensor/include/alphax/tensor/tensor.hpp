#pragma once
/// \file
/// \brief BasicTensor: a dense NCHW (or general-rank) array of float or double, owning 64-byte aligned
/// storage or viewing external memory (e.g. a slice of a flat parameter/gradient buffer).
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <new>
#include <random>
#include <span>
#include <string>

namespace alphax::tensor {

/// \brief The element types every op is instantiated for (float for training, double for gradient checks).
template <typename T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double>;

/// \brief Alignment in bytes of every owning tensor's storage and of Workspace buffers.
inline constexpr std::size_t kTensorAlignment = 64;

/// \brief The largest rank a Shape can hold.
inline constexpr int kMaxRank = 6;

/// \brief How a backward pass stores gradients: overwrite the output gradient, or add into it.
enum class GradMode { kWrite, kAdd };

/// \brief An activation fused into an op (currently into batch norm).
enum class Activation { kNone, kRelu };

/// \brief Dimensions of a tensor, outermost first (N, C, H, W for images). Fixed capacity, no allocation.
class Shape {
 public:
  /// \brief A rank-0 shape (one element).
  Shape() = default;
  /// \brief A shape from its dimensions; throws std::invalid_argument on a negative dimension or rank >
  /// kMaxRank.
  Shape(std::initializer_list<std::int64_t> dims);
  /// \brief A shape from a span of dimensions (same checks as the list constructor).
  explicit Shape(std::span<const std::int64_t> dims);

  /// \brief Number of dimensions.
  [[nodiscard]] int rank() const noexcept { return rank_; }
  /// \brief Dimension i (0 <= i < rank(), unchecked).
  [[nodiscard]] std::int64_t operator[](int i) const noexcept { return dims_[static_cast<std::size_t>(i)]; }
  /// \brief Number of elements (product of the dimensions).
  [[nodiscard]] std::int64_t size() const noexcept;
  /// \brief The dimensions as a span.
  [[nodiscard]] std::span<const std::int64_t> dims() const noexcept {
    return {dims_.data(), static_cast<std::size_t>(rank_)};
  }
  /// \brief Human-readable form, e.g. "[128, 16, 28, 28]", for error messages.
  [[nodiscard]] std::string to_string() const;

  friend bool operator==(const Shape& a, const Shape& b) noexcept;

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

/// \brief Deleter for 64-byte aligned arrays obtained from aligned operator new.
struct AlignedDelete {
  /// \brief Releases storage allocated by allocate_aligned.
  void operator()(void* p) const noexcept { ::operator delete (p, std::align_val_t{kTensorAlignment}); }
};

/// \brief Allocates `count` zero-initialised elements of T aligned to kTensorAlignment.
template <Scalar T>
std::unique_ptr<T[], AlignedDelete> allocate_aligned(std::size_t count) {
  if (count == 0) return {};
  void* raw = ::operator new (count * sizeof(T), std::align_val_t{kTensorAlignment});
  std::unique_ptr<T[], AlignedDelete> owner(static_cast<T*>(raw));
  for (std::size_t i = 0; i < count; ++i) owner[i] = T{0};
  return owner;
}

/// \brief A dense row-major (NCHW for rank 4) tensor of T: owning, or a non-owning view.
///
/// Owning tensors are zero-initialised and 64-byte aligned. A view (from view()) aliases memory it
/// does not own and must not outlive it. Tensors are move-only; clone() makes an owning deep copy.
/// Ops accept owning tensors and views alike.
template <Scalar T>
class BasicTensor {
 public:
  /// \brief An empty tensor (rank 0, no storage, size() == 0).
  BasicTensor() = default;
  /// \brief An owning, zero-filled tensor of the given shape.
  explicit BasicTensor(const Shape& shape);
  /// \brief A non-owning view of `shape.size()` elements at `data` (e.g. a slice of a flat buffer).
  [[nodiscard]] static BasicTensor view(T* data, const Shape& shape);

  BasicTensor(BasicTensor&& other) noexcept;
  BasicTensor& operator=(BasicTensor&& other) noexcept;
  BasicTensor(const BasicTensor&) = delete;
  BasicTensor& operator=(const BasicTensor&) = delete;
  ~BasicTensor() = default;

  /// \brief An owning deep copy.
  [[nodiscard]] BasicTensor clone() const;
  /// \brief A non-owning view of the same memory with another shape of equal size (throws otherwise).
  [[nodiscard]] BasicTensor reshaped(const Shape& shape);
  /// \brief A non-owning view of the same memory and shape.
  [[nodiscard]] BasicTensor view() { return reshaped(shape_); }

  /// \brief The shape.
  [[nodiscard]] const Shape& shape() const noexcept { return shape_; }
  /// \brief Number of dimensions.
  [[nodiscard]] int rank() const noexcept { return shape_.rank(); }
  /// \brief Dimension i.
  [[nodiscard]] std::int64_t dim(int i) const noexcept { return shape_[i]; }
  /// \brief Number of elements (0 for an empty tensor).
  [[nodiscard]] std::int64_t size() const noexcept { return data_ == nullptr ? 0 : shape_.size(); }
  /// \brief True when this tensor owns its storage.
  [[nodiscard]] bool owns_data() const noexcept { return static_cast<bool>(storage_); }

  /// \brief Pointer to the first element.
  [[nodiscard]] T* data() noexcept { return data_; }
  /// \brief Pointer to the first element.
  [[nodiscard]] const T* data() const noexcept { return data_; }
  /// \brief All elements as a span.
  [[nodiscard]] std::span<T> span() noexcept { return {data_, static_cast<std::size_t>(size())}; }
  /// \brief All elements as a span.
  [[nodiscard]] std::span<const T> span() const noexcept { return {data_, static_cast<std::size_t>(size())}; }
  /// \brief Flat element i (unchecked).
  [[nodiscard]] T& operator[](std::int64_t i) noexcept { return data_[i]; }
  /// \brief Flat element i (unchecked).
  [[nodiscard]] const T& operator[](std::int64_t i) const noexcept { return data_[i]; }
  /// \brief Element (n, c, h, w) of a rank-4 tensor (unchecked).
  [[nodiscard]] T& operator()(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) noexcept {
    return data_[((n * shape_[1] + c) * shape_[2] + h) * shape_[3] + w];
  }
  /// \brief Element (n, c, h, w) of a rank-4 tensor (unchecked).
  [[nodiscard]] const T& operator()(std::int64_t n, std::int64_t c, std::int64_t h,
                                    std::int64_t w) const noexcept {
    return data_[((n * shape_[1] + c) * shape_[2] + h) * shape_[3] + w];
  }

  /// \brief Sets every element to `value`.
  void fill(T value) noexcept;
  /// \brief Sets every element to zero.
  void zero() noexcept { fill(T{0}); }
  /// \brief Copies the elements of `src` (same size required, shapes may differ; throws otherwise).
  void copy_from(const BasicTensor& src);

 private:
  std::unique_ptr<T[], AlignedDelete> storage_;
  T* data_ = nullptr;
  Shape shape_;
};

/// \brief The float32 tensor used for training.
using Tensor = BasicTensor<float>;
/// \brief The float64 tensor used for gradient checks.
using TensorD = BasicTensor<double>;

/// \brief Throws std::invalid_argument("<where>: <what> has shape [..], expected [..]") unless shapes match.
void require_shape(const char* where, const char* what, const Shape& actual, const Shape& expected);

/// \brief Fills `t` with independent uniform draws from [lo, hi) using `rng` (deterministic for a seed).
template <Scalar T, typename Rng>
void fill_uniform(BasicTensor<T>& t, T lo, T hi, Rng& rng) {
  std::uniform_real_distribution<T> dist(lo, hi);
  for (auto& v : t.span()) v = dist(rng);
}

/// \brief Fills `t` with independent normal draws N(mean, stddev^2) using `rng` (deterministic for a seed).
template <Scalar T, typename Rng>
void fill_normal(BasicTensor<T>& t, T mean, T stddev, Rng& rng) {
  std::normal_distribution<T> dist(mean, stddev);
  for (auto& v : t.span()) v = dist(rng);
}

}  // namespace alphax::tensor
