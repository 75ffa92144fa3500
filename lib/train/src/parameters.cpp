#include "alphax/train/parameters.hpp"

#include <cmath>
#include <random>
#include <stdexcept>

namespace alphax::train {
namespace {

// Parameters start at multiples of 16 floats (64 bytes) so every view is as aligned as an owning tensor.
constexpr std::int64_t kAlignFloats = 16;

std::int64_t aligned(std::int64_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }

void fill(tensor::Tensor& t, const ParameterInfo& info, std::mt19937_64& rng) {
  switch (info.init) {
    case ParamInit::kKaimingNormal:
      tensor::fill_normal(t, 0.0f, static_cast<float>(std::sqrt(2.0 / static_cast<double>(info.fan_in))), rng);
      break;
    case ParamInit::kUniformFanIn: {
      const auto bound = static_cast<float>(1.0 / std::sqrt(static_cast<double>(info.fan_in)));
      tensor::fill_uniform(t, -bound, bound, rng);
      break;
    }
    case ParamInit::kOnes: t.fill(1.0f); break;
    case ParamInit::kZeros: t.zero(); break;
  }
}

}  // namespace

ParamRef ParameterStore::add(std::string name, const tensor::Shape& shape, ParamInit init, std::int64_t fan_in) {
  if (final_) throw std::logic_error("ParameterStore::add: '" + name + "' declared after finalize()");
  params_.push_back(ParameterInfo{std::move(name), shape, param_size_, init, fan_in});
  param_size_ += aligned(shape.size());
  return ParamRef{static_cast<std::int32_t>(params_.size() - 1)};
}

ParamRef ParameterStore::add_state(std::string name, const tensor::Shape& shape, ParamInit init) {
  if (final_) throw std::logic_error("ParameterStore::add_state: '" + name + "' declared after finalize()");
  state_infos_.push_back(ParameterInfo{std::move(name), shape, state_size_, init, 1});
  state_size_ += aligned(shape.size());
  return ParamRef{static_cast<std::int32_t>(state_infos_.size() - 1)};
}

void ParameterStore::finalize() {
  if (final_) return;
  values_ = tensor::Tensor(tensor::Shape{std::max<std::int64_t>(param_size_, 1)});
  grads_ = tensor::Tensor(tensor::Shape{std::max<std::int64_t>(param_size_, 1)});
  states_ = tensor::Tensor(tensor::Shape{std::max<std::int64_t>(state_size_, 1)});
  final_ = true;
}

void ParameterStore::initialize(std::uint64_t seed) {
  require_final("ParameterStore::initialize");
  std::mt19937_64 rng(seed);
  values_.zero();
  grads_.zero();
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto t = value(ParamRef{static_cast<std::int32_t>(i)});
    fill(t, params_[i], rng);
  }
  for (std::size_t i = 0; i < state_infos_.size(); ++i) {
    auto t = state(ParamRef{static_cast<std::int32_t>(i)});
    fill(t, state_infos_[i], rng);
  }
}

tensor::Tensor ParameterStore::value(ParamRef ref) {
  require_final("ParameterStore::value");
  const auto& p = params_.at(static_cast<std::size_t>(ref.index));
  return tensor::Tensor::view(values_.data() + p.offset, p.shape);
}

tensor::Tensor ParameterStore::grad(ParamRef ref) {
  require_final("ParameterStore::grad");
  const auto& p = params_.at(static_cast<std::size_t>(ref.index));
  return tensor::Tensor::view(grads_.data() + p.offset, p.shape);
}

tensor::Tensor ParameterStore::state(ParamRef ref) {
  require_final("ParameterStore::state");
  const auto& p = state_infos_.at(static_cast<std::size_t>(ref.index));
  return tensor::Tensor::view(states_.data() + p.offset, p.shape);
}

void ParameterStore::require_final(const char* where) const {
  if (!final_) throw std::logic_error(std::string(where) + ": call finalize() first");
}

}  // namespace alphax::train
