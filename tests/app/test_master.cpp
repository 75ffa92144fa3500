// The master's decisions without MPI: failed/diverged evaluations, deterministic consumption
// order regardless of arrival order, restore == uninterrupted, target objective.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "alphax/master.hpp"
#include "alphax/search/registry.hpp"
#include "alphax/search_log.hpp"
#include "test_files.hpp"

namespace alphax::app {
namespace {

// A deterministic evaluator double: objective and duration from the architecture's hash; every
// 5th hash class fails, every 7th diverges.
search::EvalResult fake_evaluate(const search::SearchSpace& space, const search::Genome& genome) {
  const auto h = space.canonical_hash(genome);
  search::EvalResult r;
  r.objective = 50.0 + static_cast<double>(h % 4000) / 100.0;
  r.report = r.objective - 1.0;
  r.train_seconds = 1.0 + static_cast<double>((h >> 8) % 100);
  if (h % 5 == 0) {
    r.status = search::EvalStatus::failed;
    r.message = "out of memory";
  } else if (h % 7 == 0) {
    r.objective = std::nan("");
  }
  return r;
}

struct Harness {
  std::filesystem::path dir;
  YAML::Node space_node = YAML::Load("{name: nb201}");
  std::unique_ptr<search::SearchSpace> space = search::make_space(space_node);
  std::unique_ptr<search::SearchStrategy> strategy;
  std::unique_ptr<SearchLog> log;
  std::unique_ptr<Master> master;
  std::map<int, Dispatch> in_flight;
  std::mt19937 arrival;

  Harness(const std::filesystem::path& d, const std::string& name, int groups, MasterOptions options,
          unsigned arrival_seed)
      : dir(d), arrival(arrival_seed) {
    strategy = search::make_strategy(YAML::Load("{name: evolution, population: 8, tournament: 3}"), *space, 11);
    log = std::make_unique<SearchLog>(SearchLog::create(dir / (name + ".h5"), {"x: 1\n", groups + 1, 1}));
    master = std::make_unique<Master>(std::move(options), *space, *strategy, groups, log.get(), nullptr);
  }
  void take(const std::vector<Dispatch>& dispatches) {
    for (const auto& d : dispatches) {
      ASSERT_FALSE(in_flight.count(d.group)) << "group " << d.group << " got two evaluations";
      in_flight[d.group] = d;
    }
  }
  // Delivers one in-flight result, chosen at random (the wall-clock arrival order).
  void deliver_one(double now) {
    ASSERT_FALSE(in_flight.empty());
    auto it = in_flight.begin();
    std::advance(it, static_cast<long>(arrival() % in_flight.size()));
    const Dispatch d = it->second;
    in_flight.erase(it);
    take(master->on_result(d.group, fake_evaluate(*space, d.genome), now));
  }
  void run_to_end() {
    double now = 0;
    while (!master->done()) deliver_one(now += 1);
  }
};

MasterOptions options_with_budget(std::uint64_t budget) {
  MasterOptions o;
  o.max_evaluations = budget;
  o.order = ResultOrder::deterministic;
  return o;
}

void expect_same_rows(const std::filesystem::path& a, const std::filesystem::path& b) {
  const auto ra = SearchLog::read_all(a);
  const auto rb = SearchLog::read_all(b);
  ASSERT_EQ(ra.size(), rb.size());
  for (std::size_t i = 0; i < ra.size(); ++i) EXPECT_TRUE(ra[i].same_except_times(rb[i])) << "row " << i;
}

TEST(Master, FailedAndDivergedEvaluationsAreLoggedAndTheSearchGoesOn) {
  const auto dir = testing::fresh_directory("master");
  Harness h(dir, "log", 3, options_with_budget(60), 1);
  h.take(h.master->start(0));
  h.run_to_end();
  EXPECT_EQ(h.master->phase(), MasterPhase::finished);
  const auto rows = SearchLog::read_all(dir / "log.h5");
  ASSERT_EQ(rows.size(), 60u);
  const auto count = [&](search::EvalStatus s) {
    return std::count_if(rows.begin(), rows.end(), [s](const EvaluationRecord& r) { return r.status == s; });
  };
  EXPECT_GT(count(search::EvalStatus::failed), 0);
  EXPECT_GT(count(search::EvalStatus::diverged), 0);
  EXPECT_GT(count(search::EvalStatus::ok), 30);
  ASSERT_TRUE(h.master->best().valid);
  EXPECT_EQ(h.master->best().result.status, search::EvalStatus::ok);
}

TEST(Master, DeterministicOrderDoesNotDependOnArrivalOrder) {
  const auto dir = testing::fresh_directory("master");
  Harness a(dir, "a", 4, options_with_budget(80), 1);
  Harness b(dir, "b", 4, options_with_budget(80), 99);
  a.take(a.master->start(0));
  b.take(b.master->start(0));
  a.run_to_end();
  b.run_to_end();
  expect_same_rows(dir / "a.h5", dir / "b.h5");
  // Consumption follows the virtual clock.
  const auto rows = SearchLog::read_all(dir / "a.h5");
  for (std::size_t i = 1; i < rows.size(); ++i) EXPECT_LE(rows[i - 1].virtual_finish, rows[i].virtual_finish) << i;
}

TEST(Master, DispatchTimeCostModelKeepsTheOrderDeterministic) {
  const auto dir = testing::fresh_directory("master");
  auto options = options_with_budget(60);
  options.dispatch_cost = [](const search::Genome& g) {
    double cost = 1.0;
    for (auto v : g) cost += v;
    return cost;
  };
  Harness a(dir, "a", 3, options, 1);
  Harness b(dir, "b", 3, options, 77);
  a.take(a.master->start(0));
  b.take(b.master->start(0));
  a.run_to_end();
  b.run_to_end();
  expect_same_rows(dir / "a.h5", dir / "b.h5");
}

TEST(Master, ArrivalOrderConsumesResultsAsTheyCome) {
  const auto dir = testing::fresh_directory("master");
  auto options = options_with_budget(30);
  options.order = ResultOrder::arrival;
  Harness h(dir, "log", 3, options, 5);
  h.take(h.master->start(0));
  h.run_to_end();
  EXPECT_EQ(SearchLog::read_all(dir / "log.h5").size(), 30u);
}

TEST(Master, RestoredSnapshotContinuesExactlyLikeAnUninterruptedRun) {
  const auto dir = testing::fresh_directory("master");
  Harness full(dir, "full", 3, options_with_budget(70), 1);
  full.take(full.master->start(0));
  full.run_to_end();

  Harness first(dir, "part", 3, options_with_budget(70), 2);
  first.take(first.master->start(0));
  while (first.master->results() < 31) first.deliver_one(1);
  const auto state = first.master->snapshot(5.0);
  const auto rows = first.log->rows();
  first.log.reset();

  Harness second(dir, "unused", 3, options_with_budget(70), 3);
  second.log = std::make_unique<SearchLog>(SearchLog::reopen(dir / "part.h5", {"x: 1\n", 4, 1}, rows));
  second.master = std::make_unique<Master>(options_with_budget(70), *second.space, *second.strategy, 3,
                                           second.log.get(), nullptr);
  second.master->restore(state);
  second.take(second.master->start(5.0));
  second.run_to_end();
  second.log.reset();
  expect_same_rows(dir / "full.h5", dir / "part.h5");
}

TEST(Master, RestoreWithAnotherLayoutIsRejected) {
  const auto dir = testing::fresh_directory("master");
  Harness a(dir, "a", 3, options_with_budget(10), 1);
  a.take(a.master->start(0));
  const auto state = a.master->snapshot(0);
  Harness b(dir, "b", 2, options_with_budget(10), 1);
  EXPECT_THROW(b.master->restore(state), std::runtime_error);
}

TEST(Master, TargetObjectiveStopsDispatchingAndDrainsInFlight) {
  const auto dir = testing::fresh_directory("master");
  auto options = options_with_budget(500);
  options.target_objective = 80.0;
  Harness h(dir, "log", 3, options, 4);
  h.take(h.master->start(0));
  h.run_to_end();
  EXPECT_EQ(h.master->phase(), MasterPhase::finished);
  EXPECT_NE(h.master->stop_reason().find("target"), std::string::npos) << h.master->stop_reason();
  EXPECT_LT(h.master->results(), 500u);
  EXPECT_EQ(h.master->results(), h.master->dispatched());
  EXPECT_GE(h.master->best().result.objective, 80.0);
}

TEST(Master, StopAfterResultsPreemptsWithAllGroupsStillAssigned) {
  const auto dir = testing::fresh_directory("master");
  auto options = options_with_budget(50);
  options.stop_after_results = 10;
  Harness h(dir, "log", 3, options, 4);
  h.take(h.master->start(0));
  h.run_to_end();
  EXPECT_EQ(h.master->phase(), MasterPhase::preempted);
  EXPECT_EQ(h.log->rows(), 10u);
  EXPECT_EQ(h.master->snapshot(0).child("master").ints("in_flight_group").size(), 3u);
}

}  // namespace
}  // namespace alphax::app
