// The meta-DNN: it learns, its uncertainty shrinks where it has data, and it round-trips bit-exactly.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "alphax/search/predictor.hpp"
#include "alphax/search/strategies.hpp"
#include "search_test_util.hpp"

namespace alphax::search {
namespace {

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const auto ranks = [](const std::vector<double>& v) {
    std::vector<std::size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) { return v[i] < v[j]; });
    std::vector<double> r(v.size());
    for (std::size_t k = 0; k < order.size(); ++k) r[order[k]] = static_cast<double>(k);
    return r;
  };
  const auto ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  double d2 = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) d2 += (ra[i] - rb[i]) * (ra[i] - rb[i]);
  return 1.0 - 6.0 * d2 / (n * (n * n - 1.0));
}

class PredictorTargets : public ::testing::TestWithParam<bool> {};

TEST_P(PredictorTargets, RanksUnseenArchitecturesOfASyntheticObjective) {
  Nb201Space space;
  testing::SyntheticEvaluator evaluator(space, 3);
  PredictorConfig config;
  config.rank_targets = GetParam();
  config.retrain_every = 10;  // fewer retrainings keep the test quick; the model is the same
  Predictor predictor(space.encoding_size(), config, 1);
  Rng rng(11);
  for (int i = 0; i < 150; ++i) {
    const auto g = space.sample(rng);
    predictor.add(space.encode(g), evaluator.evaluate(space, g).objective);
  }
  ASSERT_TRUE(predictor.trained());
  std::vector<double> truth, predicted;
  for (int i = 0; i < 300; ++i) {
    const auto g = space.sample(rng);
    truth.push_back(evaluator.evaluate(space, g).objective);
    predicted.push_back(predictor.predict(space.encode(g)).mean);
  }
  EXPECT_GT(spearman(truth, predicted), 0.7);
}

INSTANTIATE_TEST_SUITE_P(ZScoreAndRank, PredictorTargets, ::testing::Bool());

TEST(Predictor, UntrainedPredictsTheDataMeanWithoutSpread) {
  Predictor predictor(4, PredictorConfig{}, 1);
  EXPECT_FALSE(predictor.trained());
  const auto e = predictor.predict({1, 0, 0, 1});
  EXPECT_EQ(e.mean, 0.0);
  EXPECT_EQ(e.stddev, 0.0);
  EXPECT_THROW(predictor.predict({1, 0}), std::invalid_argument);
  EXPECT_THROW(predictor.add({1, 0}, 1.0), std::invalid_argument);
}

TEST(Predictor, SaveLoadRestoresWeightsDataAndRngBitExactly) {
  Nb201Space space;
  testing::SyntheticEvaluator evaluator(space, 3);
  Predictor a(space.encoding_size(), PredictorConfig{}, 1);
  Rng rng(2);
  for (int i = 0; i < 30; ++i) {
    const auto g = space.sample(rng);
    a.add(space.encode(g), evaluator.evaluate(space, g).objective);
  }
  StateArchive archive;
  a.save(archive);
  Predictor b(space.encode(space.sample(rng)).size(), PredictorConfig{}, 99);
  b.load(archive);
  for (int i = 0; i < 10; ++i) {  // keep training both on the same data: they stay identical
    const auto g = space.sample(rng);
    const auto x = space.encode(g);
    const double y = evaluator.evaluate(space, g).objective;
    a.add(x, y);
    b.add(x, y);
    const double pa = a.predict(x).mean, pb = b.predict(x).mean;
    ASSERT_EQ(std::memcmp(&pa, &pb, sizeof pa), 0);
    const double ma = a.predict_member(x, 2), mb = b.predict_member(x, 2);
    ASSERT_EQ(std::memcmp(&ma, &mb, sizeof ma), 0);
  }
  Predictor narrow(space.encoding_size(), [] {
    PredictorConfig c;
    c.ensemble = 2;
    return c;
  }(), 1);
  try {  // the message names both sizes and the key that resumes the checkpoint
    narrow.load(archive);
    ADD_FAILURE() << "expected an ensemble size mismatch to be reported";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("predictor: {ensemble: 4}"), std::string::npos) << e.what();
  }
  Predictor without_prior(space.encoding_size(), [] {
    PredictorConfig c;
    c.prior_scale = 0.0;
    return c;
  }(), 1);
  StateArchive plain;
  without_prior.save(plain);
  Predictor with_prior(space.encoding_size(), [] {
    PredictorConfig c;
    c.prior_scale = 1.0;
    return c;
  }(), 1);
  try {  // a checkpoint of a plain ensemble cannot be resumed with priors (nor the reverse)
    with_prior.load(plain);
    ADD_FAILURE() << "expected a prior_scale mismatch to be reported";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("prior_scale"), std::string::npos) << e.what();
  }
  StateArchive priored;
  with_prior.save(priored);
  EXPECT_THROW(without_prior.load(priored), std::runtime_error);
}

/// Mean ensemble spread over `cells` divided by the mean spread over `data` after training on `data`.
double far_to_near_spread(double prior_scale) {
  Nb201Space space;
  testing::SyntheticEvaluator evaluator(space, 3);
  PredictorConfig config;
  config.prior_scale = prior_scale;
  Predictor predictor(space.encoding_size(), config, 1);
  Rng rng(5);
  // Data only from cells whose edges are all convolutions; "far" cells have none.
  const auto draw = [&](std::vector<int> ops) {
    Genome g(6);
    for (auto& v : g) v = ops[std::uniform_int_distribution<std::size_t>(0, ops.size() - 1)(rng)];
    return g;
  };
  std::vector<Genome> near, far;
  for (int i = 0; i < 40; ++i) near.push_back(draw({2, 3}));
  for (int i = 0; i < 40; ++i) far.push_back(draw({0, 1, 4}));
  for (const auto& g : near) predictor.add(space.encode(g), evaluator.evaluate(space, g).objective);
  const auto spread = [&](const std::vector<Genome>& cells) {
    double s = 0.0;
    for (const auto& g : cells) s += predictor.predict(space.encode(g)).stddev;
    return s / static_cast<double>(cells.size());
  };
  return spread(far) / spread(near);
}

TEST(Predictor, RandomPriorsMakeTheMembersDisagreeWhereThereAreNoData) {
  // Without priors the members, trained on the same data, extrapolate alike; a fixed random prior
  // per member keeps them apart where no data pull them together.
  const double without = far_to_near_spread(0.0);
  const double with = far_to_near_spread(1.0);
  EXPECT_GT(with, 2.0 * without) << "without priors " << without << ", with " << with;
}

TEST(Predictor, MemberOutputsGiveExactlyPredictAndPredictMember) {
  // Candidate memos keep member_outputs() per architecture and score ucb and Thompson from them:
  // that must give the bits predict() and predict_member() give, for both kinds of target.
  for (const bool rank_targets : {true, false}) {
    Nb201Space space;
    testing::SyntheticEvaluator evaluator(space, 3);
    PredictorConfig config;
    config.rank_targets = rank_targets;
    config.prior_scale = 1.0;
    Predictor predictor(space.encoding_size(), config, 4);
    Rng rng(5);
    const auto x0 = space.encode(space.sample(rng));
    EXPECT_TRUE(predictor.member_outputs(x0, predictor.prior_outputs(x0)).empty());  // untrained
    for (int i = 0; i < 25; ++i) {
      const auto g = space.sample(rng);
      predictor.add(space.encode(g), evaluator.evaluate(space, g).objective);
    }
    for (int i = 0; i < 20; ++i) {
      const auto x = space.encode(space.sample(rng));
      const auto outputs = predictor.member_outputs(x, predictor.prior_outputs(x));
      ASSERT_EQ(outputs.size(), predictor.ensemble_size());
      const auto direct = predictor.predict(x), from_outputs = predictor.estimate(outputs);
      EXPECT_EQ(std::memcmp(&direct.mean, &from_outputs.mean, sizeof(double)), 0);
      EXPECT_EQ(std::memcmp(&direct.stddev, &from_outputs.stddev, sizeof(double)), 0);
      for (std::size_t m = 0; m < outputs.size(); ++m) {
        const double a = predictor.predict_member(x, m), b = predictor.objective(outputs[m]);
        EXPECT_EQ(std::memcmp(&a, &b, sizeof a), 0) << "member " << m;
      }
    }
    EXPECT_THROW(predictor.estimate({1.0}), std::invalid_argument);
  }
}

TEST(Predictor, YamlKeysAreCheckedAndRead) {
  const auto c = PredictorConfig::from_yaml(YAML::Load("{hidden: 16, ensemble: 3, rank_targets: false}"), "p");
  EXPECT_EQ(c.hidden, 16);
  EXPECT_EQ(c.ensemble, 3);
  EXPECT_FALSE(c.rank_targets);
  EXPECT_EQ(c.prior_scale, 0.0);
  PredictorConfig with_prior;
  with_prior.prior_scale = 1.0;  // a strategy's own default (mcts) survives a section that does not set it
  EXPECT_EQ(PredictorConfig::from_yaml(YAML::Load("{hidden: 16}"), "p", with_prior).prior_scale, 1.0);
  EXPECT_EQ(PredictorConfig::from_yaml(YAML::Load("{prior_scale: 0.5}"), "p", with_prior).prior_scale, 0.5);
  EXPECT_EQ(MctsConfig{}.surrogate.predictor.prior_scale, 1.0);
  EXPECT_EQ(LanasConfig{}.surrogate.predictor.prior_scale, 0.0);
  EXPECT_THROW(PredictorConfig::from_yaml(YAML::Load("{prior_scale: -1}"), "p"), std::invalid_argument);
  EXPECT_THROW(PredictorConfig::from_yaml(YAML::Load("{hidden: 0}"), "p"), std::invalid_argument);
  EXPECT_THROW(PredictorConfig::from_yaml(YAML::Load("{widht: 3}"), "p"), std::invalid_argument);
}

}  // namespace
}  // namespace alphax::search
