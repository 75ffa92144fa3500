#include "alphax/search/predictor.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "alphax/search/spaces.hpp"
#include "config_reader.hpp"

namespace alphax::search {

PredictorConfig PredictorConfig::from_yaml(const YAML::Node& node, const std::string& path) {
  return from_yaml(node, path, PredictorConfig{});
}

PredictorConfig PredictorConfig::from_yaml(const YAML::Node& node, const std::string& path,
                                           const PredictorConfig& defaults) {
  PredictorConfig c = defaults;
  if (!node) return c;
  ConfigReader r(node, path);
  c.hidden = r.get_int("hidden", c.hidden, 1);
  c.ensemble = r.get_int("ensemble", c.ensemble, 1);
  c.train_steps = r.get_int("train_steps", c.train_steps, 0);
  c.batch = r.get_int("batch", c.batch, 1);
  c.learning_rate = r.get_double("learning_rate", c.learning_rate, 0.0);
  c.rank_targets = r.get_bool("rank_targets", c.rank_targets);
  c.retrain_every = r.get_int("retrain_every", c.retrain_every, 1);
  c.retrain_growth = r.get_double("retrain_growth", c.retrain_growth, 0.0);
  c.prior_scale = r.get_double("prior_scale", c.prior_scale, 0.0);
  r.check_unknown();
  return c;
}

namespace {
// Flat layout of one MLP: W1 (h x d), b1 (h), W2 (h x h), b2 (h), w3 (h), b3 (1).
std::size_t parameter_count(std::size_t d, std::size_t h) { return h * d + h + h * h + h + h + 1; }
}  // namespace

Predictor::Predictor(std::size_t input_size, PredictorConfig config, std::uint64_t seed)
    : input_size_(input_size), config_(config), rng_(seed) {
  if (input_size_ == 0) throw std::invalid_argument("Predictor: input size is 0");
  const auto d = input_size_;
  const auto h = static_cast<std::size_t>(config_.hidden);
  const auto n = parameter_count(d, h);
  for (std::int32_t e = 0; e < config_.ensemble; ++e) {
    Mlp net;
    net.w = initial_weights();
    net.grad.assign(n, 0.0);
    net.m.assign(n, 0.0);
    net.v.assign(n, 0.0);
    nets_.push_back(std::move(net));
  }
  // Randomized prior functions (Osband et al. 2018): each member adds a fixed random net, so the
  // members disagree where no data constrain them.
  if (config_.prior_scale > 0.0)
    for (auto& net : nets_) net.prior = initial_weights();
}

std::vector<double> Predictor::initial_weights() {
  const auto d = input_size_;
  const auto h = static_cast<std::size_t>(config_.hidden);
  std::vector<double> w(parameter_count(d, h), 0.0);
  // He-uniform initialisation; biases zero.
  auto fill = [&](std::size_t offset, std::size_t count, std::size_t fan_in) {
    const double limit = std::sqrt(6.0 / static_cast<double>(fan_in));
    std::uniform_real_distribution<double> u(-limit, limit);
    for (std::size_t i = 0; i < count; ++i) w[offset + i] = u(rng_);
  };
  fill(0, h * d, d);
  fill(h * d + h, h * h, h);
  fill(h * d + h + h * h + h, h, h);
  return w;
}

double Predictor::forward(const Mlp& net, const float* x, std::vector<double>& h1, std::vector<double>& h2) const {
  if (net.prior.empty()) return forward_weights(net.w, x, h1, h2);
  // The prior pass first, in the same buffers (no allocation per training sample): the trained pass
  // then leaves h1 and h2 holding its own activations, which adam_step reads.
  const double prior = forward_weights(net.prior, x, h1, h2);
  return forward_weights(net.w, x, h1, h2) + config_.prior_scale * prior;
}

double Predictor::forward_weights(const std::vector<double>& weights, const float* x, std::vector<double>& h1,
                                  std::vector<double>& h2) const {
  const auto d = input_size_;
  const auto h = static_cast<std::size_t>(config_.hidden);
  const double* w1 = weights.data();
  const double* b1 = w1 + h * d;
  const double* w2 = b1 + h;
  const double* b2 = w2 + h * h;
  const double* w3 = b2 + h;
  const double b3 = w3[h];
  h1.resize(h);
  h2.resize(h);
  for (std::size_t i = 0; i < h; ++i) {
    double s = b1[i];
    const double* row = w1 + i * d;
    for (std::size_t j = 0; j < d; ++j)
      if (x[j] != 0.0f) s += row[j] * static_cast<double>(x[j]);
    h1[i] = s > 0.0 ? s : 0.0;
  }
  double out = b3;
  for (std::size_t i = 0; i < h; ++i) {
    double s = b2[i];
    const double* row = w2 + i * h;
    for (std::size_t j = 0; j < h; ++j) s += row[j] * h1[j];
    h2[i] = s > 0.0 ? s : 0.0;
    out += w3[i] * h2[i];
  }
  return out;
}

void Predictor::adam_step(Mlp& net, std::size_t member) {
  const auto d = input_size_;
  const auto h = static_cast<std::size_t>(config_.hidden);
  const auto n = targets_.size();
  const auto batch = std::min<std::size_t>(static_cast<std::size_t>(config_.batch), n);
  std::fill(net.grad.begin(), net.grad.end(), 0.0);
  double* g1 = net.grad.data();
  double* gb1 = g1 + h * d;
  double* g2 = gb1 + h;
  double* gb2 = g2 + h * h;
  double* g3 = gb2 + h;
  const double* w2 = net.w.data() + h * d + h;
  const double* w3 = w2 + h * h + h;
  std::vector<double> h1, h2, d1(h), d2(h);
  std::uniform_int_distribution<std::size_t> pick(0, n - 1);
  const double scale = 2.0 / static_cast<double>(batch);
  for (std::size_t b = 0; b < batch; ++b) {
    // Each member trains on its own ~80 % subset (bagging), so the ensemble spread means something.
    auto i = pick(rng_);
    while (n >= 5 && mix64(i * 0x9e3779b97f4a7c15ULL + member) % 5 == 0) i = pick(rng_);
    const float* x = inputs_.data() + i * d;
    const double y = train_targets_[i];
    const double err = (forward(net, x, h1, h2) - y) * scale;
    g3[h] += err;
    for (std::size_t k = 0; k < h; ++k) {
      g3[k] += err * h2[k];
      d2[k] = h2[k] > 0.0 ? err * w3[k] : 0.0;
    }
    std::fill(d1.begin(), d1.end(), 0.0);
    for (std::size_t k = 0; k < h; ++k) {
      if (d2[k] == 0.0) continue;
      gb2[k] += d2[k];
      const double* row = w2 + k * h;
      double* grow = g2 + k * h;
      for (std::size_t j = 0; j < h; ++j) {
        grow[j] += d2[k] * h1[j];
        d1[j] += d2[k] * row[j];
      }
    }
    for (std::size_t j = 0; j < h; ++j) {
      if (h1[j] <= 0.0) continue;
      gb1[j] += d1[j];
      double* grow = g1 + j * d;
      for (std::size_t q = 0; q < d; ++q)
        if (x[q] != 0.0f) grow[q] += d1[j] * static_cast<double>(x[q]);
    }
  }
  constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  ++net.steps;
  const double c1 = 1.0 - std::pow(kBeta1, static_cast<double>(net.steps));
  const double c2 = 1.0 - std::pow(kBeta2, static_cast<double>(net.steps));
  for (std::size_t p = 0; p < net.w.size(); ++p) {
    net.m[p] = kBeta1 * net.m[p] + (1.0 - kBeta1) * net.grad[p];
    net.v[p] = kBeta2 * net.v[p] + (1.0 - kBeta2) * net.grad[p] * net.grad[p];
    net.w[p] -= config_.learning_rate * (net.m[p] / c1) / (std::sqrt(net.v[p] / c2) + kEps);
  }
}

void Predictor::add(const std::vector<float>& x, double y) {
  if (x.size() != input_size_)
    throw std::invalid_argument("Predictor::add: encoding of size " + std::to_string(x.size()) + ", expected " +
                                std::to_string(input_size_));
  inputs_.insert(inputs_.end(), x.begin(), x.end());
  targets_.push_back(y);
  ++since_training_;
  const double due = std::max(static_cast<double>(config_.retrain_every),
                              config_.retrain_growth * static_cast<double>(targets_.size()));
  if (static_cast<double>(since_training_) >= due) train();
}

void Predictor::train() {
  since_training_ = 0;
  if (targets_.empty()) return;
  double sum = 0.0, sum_sq = 0.0;
  for (auto y : targets_) {
    sum += y;
    sum_sq += y * y;
  }
  const double n = static_cast<double>(targets_.size());
  y_mean_ = sum / n;
  const double var = std::max(0.0, sum_sq / n - y_mean_ * y_mean_);
  y_std_ = var > 1e-12 ? std::sqrt(var) : 1.0;
  train_targets_.resize(targets_.size());
  if (config_.rank_targets) {
    // Uniform rank scores with unit variance: (rank + 0.5) / n - 0.5, times sqrt(12); ties share
    // their mean rank.
    std::vector<std::size_t> order(targets_.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return targets_[a] < targets_[b]; });
    for (std::size_t lo = 0; lo < order.size();) {
      std::size_t hi = lo;
      while (hi + 1 < order.size() && targets_[order[hi + 1]] == targets_[order[lo]]) ++hi;
      const double rank = 0.5 * static_cast<double>(lo + hi);
      for (std::size_t k = lo; k <= hi; ++k)
        train_targets_[order[k]] = ((rank + 0.5) / n - 0.5) * std::sqrt(12.0);
      lo = hi + 1;
    }
    sorted_.resize(targets_.size());
    for (std::size_t k = 0; k < order.size(); ++k) sorted_[k] = targets_[order[k]];
  } else {
    for (std::size_t i = 0; i < targets_.size(); ++i) train_targets_[i] = (targets_[i] - y_mean_) / y_std_;
    sorted_.clear();
  }
  for (std::size_t e = 0; e < nets_.size(); ++e)
    for (std::int32_t s = 0; s < config_.train_steps; ++s) adam_step(nets_[e], e);
  ++trainings_;
}

std::vector<double> Predictor::prior_outputs(const std::vector<float>& x) const {
  if (x.size() != input_size_)
    throw std::invalid_argument("Predictor::prior_outputs: encoding of size " + std::to_string(x.size()) +
                                ", expected " + std::to_string(input_size_));
  std::vector<double> priors;
  std::vector<double> h1, h2;
  for (const auto& net : nets_)
    if (!net.prior.empty()) priors.push_back(forward_weights(net.prior, x.data(), h1, h2));
  return priors;
}

Estimate Predictor::predict(const std::vector<float>& x) const { return predict(x, prior_outputs(x)); }

Estimate Predictor::predict(const std::vector<float>& x, const std::vector<double>& priors) const {
  return estimate(member_outputs(x, priors));  // untrained: no outputs, and estimate() gives the data mean
}

std::vector<double> Predictor::member_outputs(const std::vector<float>& x, const std::vector<double>& priors) const {
  if (x.size() != input_size_)
    throw std::invalid_argument("Predictor: encoding of size " + std::to_string(x.size()) + ", expected " +
                                std::to_string(input_size_));
  if (priors.size() != (config_.prior_scale > 0.0 ? nets_.size() : 0))
    throw std::invalid_argument("Predictor: " + std::to_string(priors.size()) +
                                " prior outputs; pass prior_outputs(x) of this predictor");
  std::vector<double> outputs;
  if (trainings_ == 0) return outputs;
  outputs.reserve(nets_.size());
  std::vector<double> h1, h2;
  for (std::size_t e = 0; e < nets_.size(); ++e) {
    // The same sum as forward(): the trained net plus the member's fixed prior.
    const double out = forward_weights(nets_[e].w, x.data(), h1, h2);
    outputs.push_back(priors.empty() ? out : out + config_.prior_scale * priors[e]);
  }
  return outputs;
}

Estimate Predictor::estimate(const std::vector<double>& outputs) const {
  if (trainings_ == 0) return {y_mean_, 0.0};
  if (outputs.size() != nets_.size())
    throw std::invalid_argument("Predictor::estimate: " + std::to_string(outputs.size()) + " outputs for " +
                                std::to_string(nets_.size()) + " members");
  double sum = 0.0, sum_sq = 0.0;
  for (const double z : outputs) {
    sum += z;
    sum_sq += z * z;
  }
  const double k = static_cast<double>(nets_.size());
  const double mean = sum / k;
  const double sd = std::sqrt(std::max(0.0, sum_sq / k - mean * mean));
  if (!config_.rank_targets) return {y_mean_ + y_std_ * mean, y_std_ * sd};
  return {to_objective(mean), 0.5 * (to_objective(mean + sd) - to_objective(mean - sd))};
}

double Predictor::to_objective(double output) const {
  if (!config_.rank_targets || sorted_.empty()) return y_mean_ + y_std_ * output;
  // Inverse of the rank score: the empirical quantile, linear between samples, linear beyond
  // the ends with the slope of the outermost pair.
  const double n = static_cast<double>(sorted_.size());
  const double position = (output / std::sqrt(12.0) + 0.5) * n - 0.5;
  if (sorted_.size() == 1) return sorted_.front();
  const double clamped = std::clamp(position, 0.0, n - 1.0);
  const auto lo = static_cast<std::size_t>(std::floor(clamped));
  const auto hi = std::min(lo + 1, sorted_.size() - 1);
  const double value = sorted_[lo] + (clamped - static_cast<double>(lo)) * (sorted_[hi] - sorted_[lo]);
  if (position > n - 1.0) return value + (position - (n - 1.0)) * (sorted_.back() - sorted_[sorted_.size() - 2]);
  if (position < 0.0) return value + position * (sorted_[1] - sorted_[0]);
  return value;
}

double Predictor::predict_member(const std::vector<float>& x, std::size_t member) const {
  if (x.size() != input_size_ || member >= nets_.size())
    throw std::invalid_argument("Predictor::predict_member: wrong encoding size or member index");
  if (trainings_ == 0) return y_mean_;
  std::vector<double> h1, h2;
  return to_objective(forward(nets_[member], x.data(), h1, h2));
}

void Predictor::save(StateArchive& archive) const {
  archive.put_scalar("input_size", static_cast<std::uint64_t>(input_size_));
  archive.put_scalar("ensemble", static_cast<std::uint64_t>(nets_.size()));
  for (std::size_t e = 0; e < nets_.size(); ++e) {
    auto& g = archive.child("net" + std::to_string(e));
    g.put("w", nets_[e].w);
    g.put("m", nets_[e].m);
    g.put("v", nets_[e].v);
    g.put_scalar("steps", nets_[e].steps);
    if (!nets_[e].prior.empty()) g.put("prior", nets_[e].prior);
  }
  archive.put("inputs", std::vector<double>(inputs_.begin(), inputs_.end()));
  archive.put("targets", targets_);
  archive.put("normalisation", std::vector<double>{y_mean_, y_std_});
  archive.put("train_targets", train_targets_);
  archive.put("sorted", sorted_);
  archive.put("counters", std::vector<std::uint64_t>{since_training_, trainings_});
  save_rng(archive, "rng", rng_);
}

void Predictor::load(const StateArchive& archive) {
  if (archive.scalar_uint("input_size") != input_size_)
    throw std::runtime_error("Predictor::load: saved predictor has input size " +
                             std::to_string(archive.scalar_uint("input_size")) + ", this space encodes " +
                             std::to_string(input_size_) + "; restart with the space the checkpoint was written with");
  if (archive.scalar_uint("ensemble") != nets_.size())
    throw std::runtime_error("Predictor::load: saved predictor has " + std::to_string(archive.scalar_uint("ensemble")) +
                             " ensemble members, the configuration " + std::to_string(nets_.size()) +
                             "; set the strategy's predictor: {ensemble: " +
                             std::to_string(archive.scalar_uint("ensemble")) + "} to resume this checkpoint");
  for (std::size_t e = 0; e < nets_.size(); ++e) {  // check every net before changing any
    const auto& g = archive.child("net" + std::to_string(e));
    if (g.doubles("w").size() != nets_[e].w.size())
      throw std::runtime_error("Predictor::load: saved net" + std::to_string(e) + " has another hidden width");
    if (g.has_entry("prior") != !nets_[e].prior.empty())
      throw std::runtime_error("Predictor::load: saved predictor was written with another prior_scale (0 or not); "
                               "restart with the configuration the checkpoint was written with");
  }
  for (std::size_t e = 0; e < nets_.size(); ++e) {
    const auto& g = archive.child("net" + std::to_string(e));
    nets_[e].w = g.doubles("w");
    nets_[e].m = g.doubles("m");
    nets_[e].v = g.doubles("v");
    nets_[e].steps = g.scalar_uint("steps");
    if (!nets_[e].prior.empty()) nets_[e].prior = g.doubles("prior");
  }
  const auto& in = archive.doubles("inputs");
  inputs_.assign(in.begin(), in.end());
  targets_ = archive.doubles("targets");
  const auto& norm = archive.doubles("normalisation");
  y_mean_ = norm.at(0);
  y_std_ = norm.at(1);
  train_targets_ = archive.doubles("train_targets");
  sorted_ = archive.doubles("sorted");
  const auto& counters = archive.uints("counters");
  since_training_ = counters.at(0);
  trainings_ = counters.at(1);
  load_rng(archive, "rng", rng_);
}

}  // namespace alphax::search
