#pragma once
/// \file
/// \brief The meta-DNN: a small ensemble of MLPs on SearchSpace::encode(), trained online with Adam.
#include <cstdint>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "alphax/search/genome.hpp"
#include "alphax/search/state_archive.hpp"

namespace alphax::search {

/// \brief Shape and training schedule of the Predictor.
struct PredictorConfig {
  std::int32_t hidden = 32;         ///< width of both hidden layers
  std::int32_t ensemble = 4;        ///< independent MLPs; their spread is the uncertainty
  std::int32_t train_steps = 40;    ///< Adam minibatch steps per retraining, per MLP
  std::int32_t batch = 32;          ///< minibatch size
  double learning_rate = 0.01;      ///< Adam step size (targets are z-scored, so O(1))
  bool rank_targets = true;         ///< regress uniform rank scores instead of z-scores (robust to outliers)
  std::int32_t retrain_every = 1;   ///< retrain after every k new samples...
  double retrain_growth = 0.02;     ///< ...or after retrain_growth * num_samples, if more
  /// \brief Weight of a fixed random MLP added to each member (randomized prior functions, Osband
  /// et al. 2018): the members then disagree where no data constrain them, so the ucb bonus reaches
  /// regions the search has not sampled instead of only the ones it has. 0: plain ensemble (the
  /// default here; mcts defaults to 1, see MctsConfig).
  double prior_scale = 0.0;
  /// \brief Reads `hidden`, `ensemble`, `train_steps`, `batch`, `learning_rate`, `rank_targets`, `retrain_every`, `retrain_growth`
  /// from `node` (absent keys keep their defaults); `path` names the node in errors.
  static PredictorConfig from_yaml(const YAML::Node& node, const std::string& path);
  /// \brief As above, absent keys taking their values from `defaults`.
  static PredictorConfig from_yaml(const YAML::Node& node, const std::string& path, const PredictorConfig& defaults);
};

/// \brief A prediction in objective units: ensemble mean and standard deviation.
struct Estimate {
  double mean = 0.0;
  double stddev = 0.0;
};

/// \brief Ensemble of MLPs (input -> hidden -> hidden -> 1, ReLU) regressing the z-scored
/// objective. Training draws minibatches from every sample so far; cost per retraining is fixed.
class Predictor {
 public:
  Predictor(std::size_t input_size, PredictorConfig config, std::uint64_t seed);

  /// \brief Records one sample; retrains when `retrain_every` new samples have arrived.
  void add(const std::vector<float>& x, double y);
  /// \brief Runs one retraining now (train_steps Adam steps per MLP).
  void train();
  /// \brief Ensemble mean and spread at `x` (mean of the data when untrained).
  Estimate predict(const std::vector<float>& x) const;
  /// \brief The output of each member's fixed prior net at `x` (empty when prior_scale is 0).
  /// It never changes, so callers that score the same encoding often can keep it.
  std::vector<double> prior_outputs(const std::vector<float>& x) const;
  /// \brief predict(x) with prior_outputs(x) given (bit-identical to predict(x)).
  Estimate predict(const std::vector<float>& x, const std::vector<double>& priors) const;
  /// \brief The prediction of ensemble member `member` alone, in objective units.
  double predict_member(const std::vector<float>& x, std::size_t member) const;
  /// \brief Every member's raw output at `x`, given prior_outputs(x): what predict() and
  /// predict_member() map to objective units, for callers that keep it while the weights stay.
  std::vector<double> member_outputs(const std::vector<float>& x, const std::vector<double>& priors) const;
  /// \brief predict(x) from member_outputs(x, priors) (bit-identical).
  Estimate estimate(const std::vector<double>& outputs) const;
  /// \brief predict_member(x, m) from member_outputs(x, priors)[m] (bit-identical).
  double objective(double output) const { return to_objective(output); }
  std::size_t ensemble_size() const { return nets_.size(); }
  /// \brief Whether at least one retraining happened.
  bool trained() const { return trainings_ > 0; }
  /// \brief How many retrainings happened; the weights (and so every prediction) change only
  /// when this count does, which is what caches of predictions key on.
  std::uint64_t trainings() const { return trainings_; }
  std::size_t num_samples() const { return targets_.size(); }
  const PredictorConfig& config() const { return config_; }

  /// \brief Weights, Adam moments, data, normalisation and RNG; load() restores them bit-exactly.
  void save(StateArchive& archive) const;
  void load(const StateArchive& archive);

 private:
  /// \brief One MLP: parameters, gradients and Adam moments, all flat.
  struct Mlp {
    std::vector<double> w, grad, m, v;
    std::vector<double> prior;  ///< fixed random weights (prior_scale > 0), else empty
    std::uint64_t steps = 0;
  };
  double forward(const Mlp& net, const float* x, std::vector<double>& h1, std::vector<double>& h2) const;
  double forward_weights(const std::vector<double>& weights, const float* x, std::vector<double>& h1,
                         std::vector<double>& h2) const;
  std::vector<double> initial_weights();
  void adam_step(Mlp& net, std::size_t member);

  std::size_t input_size_;
  PredictorConfig config_;
  Rng rng_;
  std::vector<Mlp> nets_;
  std::vector<float> inputs_;   ///< num_samples x input_size
  std::vector<double> targets_;
  /// \brief Maps a network output back to objective units.
  double to_objective(double output) const;
  double y_mean_ = 0.0;
  double y_std_ = 1.0;
  std::vector<double> train_targets_;  ///< the regression targets of the last retraining
  std::vector<double> sorted_;         ///< sorted objectives at the last retraining (rank targets)
  std::uint64_t since_training_ = 0;
  std::uint64_t trainings_ = 0;
};

}  // namespace alphax::search
