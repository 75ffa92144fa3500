// The simulated clock of `alphax bench master`: utilisation accounting, the single-server master,
// per-architecture durations, and the strategy timer.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "alphax/master_simulation.hpp"
#include "alphax/search/registry.hpp"

namespace alphax::app {
namespace {

struct SimulationSetup {
  std::unique_ptr<search::SearchSpace> space = search::make_space(YAML::Load("{name: nb101}"));
  std::unique_ptr<search::SearchStrategy> inner = search::make_strategy(YAML::Load("{name: random}"), *space, 3);
  TimedStrategy strategy{*inner};
  SyntheticLandscape landscape{*space, 1};

  std::unique_ptr<Master> master(int groups, std::uint64_t evaluations, ResultOrder order = ResultOrder::arrival) {
    MasterOptions options;
    options.max_evaluations = evaluations;
    options.order = order;
    return std::make_unique<Master>(options, *space, strategy, groups, nullptr, nullptr);
  }
  std::function<search::EvalResult(const search::Genome&)> constant_seconds(double seconds) {
    return [this, seconds](const search::Genome& genome) {
      auto result = landscape.evaluate(*space, genome);
      result.train_seconds = seconds;
      return result;
    };
  }
};

TEST(MasterSimulation, SendCostPerMessageIsTheOnlyIdleTimeOfAFastMaster) {
  // 4 groups, 10 s evaluations, no latency, 0.5 s of (simulated) master CPU per message: after
  // the ramp-up every group waits 0.5 s per 10 s evaluation -> 10 / 10.5 busy.
  SimulationSetup s;
  auto master = s.master(4, 80);
  VirtualWorkerSettings settings;
  settings.mean_evaluation_seconds = 10.0;
  settings.message_latency_seconds = 0.0;
  settings.send_cpu_seconds = 0.5;
  const auto r = simulate_virtual_workers(*master, settings, s.constant_seconds(10.0));
  EXPECT_EQ(r.dispatches, 80u);
  EXPECT_EQ(r.results, 80u);
  EXPECT_NEAR(r.ramp_up_seconds, 2.0, 0.05);  // four sends of 0.5 s
  EXPECT_NEAR(r.steady_utilisation, 10.0 / 10.5, 0.01);
  EXPECT_LT(r.utilisation, r.steady_utilisation);  // the ramp-up counts against the whole window
  EXPECT_NEAR(r.demand_per_second, 0.4, 1e-12);
  EXPECT_GT(r.decisions_per_second, 0.0);
}

TEST(MasterSimulation, StreamedStartHandsOutEachDispatchBeforeTheNextProposal) {
  // With 10,000 groups the first wave is the longest master call; streaming it lets group 0 start
  // while the master still proposes for the others, and it must send what the batch call sends.
  SimulationSetup streamed;
  SimulationSetup batched;
  auto a = streamed.master(6, 30);
  auto b = batched.master(6, 30);
  std::vector<std::uint64_t> proposals_at_send;
  std::vector<Dispatch> sent;
  a->start(0.0, [&](const Dispatch& d) {
    proposals_at_send.push_back(streamed.strategy.totals().proposals);
    sent.push_back(d);
  });
  const auto collected = b->start(0.0);
  ASSERT_EQ(sent.size(), 6u);
  ASSERT_EQ(collected.size(), sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(sent[i].group, collected[i].group);
    EXPECT_EQ(sent[i].eval_id, collected[i].eval_id);
    EXPECT_EQ(streamed.space->format(sent[i].genome), batched.space->format(collected[i].genome));
  }
  // Group 0 got its work while later proposals were still to come.
  EXPECT_LT(proposals_at_send.front(), proposals_at_send.back());
  EXPECT_TRUE(std::is_sorted(proposals_at_send.begin(), proposals_at_send.end()));
}

TEST(MasterSimulation, AMasterSlowerThanTheDemandQueuesResultsAndIdlesGroups) {
  // 100 groups finishing every 1 s need 100 decisions per second; at 0.05 s of sending per
  // decision the master serves 20 per second, so groups are busy about a fifth of the time.
  SimulationSetup s;
  auto master = s.master(100, 1000);
  VirtualWorkerSettings settings;
  settings.mean_evaluation_seconds = 1.0;
  settings.message_latency_seconds = 0.0;
  settings.send_cpu_seconds = 0.05;
  const auto r = simulate_virtual_workers(*master, settings, s.constant_seconds(1.0));
  EXPECT_NEAR(r.steady_utilisation, 0.2, 0.03);
  EXPECT_GT(r.mean_queue_seconds, 1.0);
}

TEST(MasterSimulation, DurationsArePerArchitectureAndHaveTheRequestedMean) {
  for (const auto kind : {DurationModel::Kind::exponential, DurationModel::Kind::lognormal}) {
    DurationModel model;
    model.kind = kind;
    model.mean_seconds = 60.0;
    EXPECT_EQ(model.draw_for(7, 12345), model.draw_for(7, 12345));
    EXPECT_NE(model.draw_for(7, 12345), model.draw_for(8, 12345));
    double sum = 0.0;
    const int n = 20000;
    for (int i = 0; i < n; ++i) sum += model.draw_for(1, static_cast<std::uint64_t>(i));
    EXPECT_NEAR(sum / n, 60.0, 2.0);
  }
  EXPECT_THROW(DurationModel::parse_kind("gamma"), std::invalid_argument);
}

TEST(MasterSimulation, TimedStrategyCountsEveryCallTheMasterMakes) {
  SimulationSetup s;
  auto master = s.master(8, 40);
  VirtualWorkerSettings settings;
  settings.mean_evaluation_seconds = 5.0;
  const auto r = simulate_virtual_workers(*master, settings, s.constant_seconds(5.0));
  EXPECT_EQ(s.strategy.totals().dispatches, r.dispatches);
  EXPECT_EQ(s.strategy.totals().results, r.results);
  EXPECT_GE(s.strategy.totals().proposals, r.dispatches);
}

TEST(MasterSimulation, SyntheticLandscapeIsDeterministicAndBounded) {
  SimulationSetup s;
  SyntheticLandscape other(*s.space, 1);
  std::mt19937_64 rng(5);
  double lo = 100.0, hi = 0.0;
  for (int i = 0; i < 500; ++i) {
    const auto g = s.space->sample(rng);
    const double v = s.landscape.evaluate(*s.space, g).objective;
    EXPECT_EQ(v, other.evaluate(*s.space, g).objective);
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  EXPECT_GE(lo, 40.0);
  EXPECT_LE(hi, 95.0);
  EXPECT_GT(hi - lo, 5.0);  // it varies: models have something to learn
}

}  // namespace
}  // namespace alphax::app
