// SearchDriver (de-duplication, in-flight joins, save/load), simulated workers, regret and the
// benchmark summaries.
#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <fstream>
#include <sstream>

#include "alphax/search/search_benchmark.hpp"
#include "alphax/search/search_driver.hpp"
#include "alphax/search/strategies.hpp"
#include "search_test_util.hpp"

namespace alphax::search {
namespace {

using testing::fresh_directory;
using testing::write_file;

/// Proposes a fixed list of genomes in order and records what it was told.
class ScriptedStrategy final : public SearchStrategy {
 public:
  explicit ScriptedStrategy(std::vector<Genome> script) : script_(std::move(script)) {}
  std::string name() const override { return "scripted"; }
  Proposal propose() override {
    Proposal p;
    p.id = next_++;
    p.genome = script_.at(p.id % script_.size());
    return p;
  }
  void on_dispatch(const Proposal& p) override { dispatched.push_back(p.id); }
  void on_result(const Proposal& p, const EvalResult& r) override { results.emplace_back(p.id, r.objective); }
  void save(StateArchive&) const override {}
  void load(const StateArchive&) override {}
  std::vector<std::uint64_t> dispatched;
  std::vector<std::pair<std::uint64_t, double>> results;

 private:
  std::vector<Genome> script_;
  std::uint64_t next_ = 0;
};

const Genome kA{3, 0, 0, 2, 1, 0};           // conv3(x) through node 1 + conv1(x)
const Genome kAIsomorph{2, 0, 0, 3, 1, 0};  // conv1(x) through node 1 + conv3(x)
const Genome kB(6, 3);

EvalResult result(double objective) {
  EvalResult r;
  r.objective = objective;
  r.report = objective + 1.0;
  return r;
}

TEST(SearchDriver, IsomorphsOfEvaluatedClassesAreAnsweredFreeFromTheCache) {
  Nb201Space space;
  ScriptedStrategy strategy({kA, kAIsomorph, kB});
  SearchDriver driver(space, strategy);
  const auto p0 = driver.next();
  driver.complete(p0, result(70.0));
  const auto p2 = driver.next();  // proposal 1 (the isomorph) is answered from the cache
  EXPECT_EQ(p2.genome, kB);
  EXPECT_EQ(driver.unique_samples(), 1u);
  EXPECT_EQ(driver.free_proposals(), 1u);
  EXPECT_EQ(strategy.dispatched, (std::vector<std::uint64_t>{0, 2}));
  ASSERT_EQ(strategy.results.size(), 2u);
  EXPECT_EQ(strategy.results[1], (std::pair<std::uint64_t, double>{1, 70.0}));
  driver.complete(p2, result(80.0));
  EXPECT_EQ(driver.unique_samples(), 2u);
  EXPECT_EQ(driver.best().genome, kB);
  EXPECT_EQ(driver.best().sample, 2u);
  EXPECT_THROW(driver.complete(p2, result(80.0)), std::logic_error);  // completed twice
}

TEST(SearchDriver, ProposalOfAClassInFlightWaitsForThatResult) {
  Nb201Space space;
  ScriptedStrategy strategy({kA, kAIsomorph, kB});
  SearchDriver driver(space, strategy);
  const auto p0 = driver.next();
  const auto p2 = driver.next();  // proposal 1 joins p0's evaluation
  EXPECT_EQ(p2.genome, kB);
  EXPECT_EQ(driver.in_flight(), 2u);
  EXPECT_TRUE(strategy.results.empty());
  driver.complete(p0, result(70.0));
  EXPECT_EQ(strategy.results, (std::vector<std::pair<std::uint64_t, double>>{{0, 70.0}, {1, 70.0}}));
}

TEST(SearchDriver, SaveLoadKeepsCacheCountersBestAndInFlight) {
  Nb201Space space;
  ScriptedStrategy strategy({kA, kAIsomorph, kB});
  SearchDriver driver(space, strategy);
  driver.complete(driver.next(), result(70.0));
  const auto in_flight = driver.next();
  StateArchive archive;
  driver.save(archive);
  ScriptedStrategy other({kA});
  SearchDriver restored(space, other);
  restored.load(archive);
  EXPECT_EQ(restored.unique_samples(), 1u);
  EXPECT_EQ(restored.free_proposals(), 1u);
  EXPECT_EQ(restored.best().genome, kA);
  EXPECT_EQ(restored.cached(space.canonical_hash(kAIsomorph))->objective, 70.0);
  ASSERT_EQ(restored.in_flight_proposals().size(), 1u);
  EXPECT_EQ(restored.in_flight_proposals()[0].genome, in_flight.genome);
  StateArchive again;
  restored.save(again);
  EXPECT_EQ(again, archive);
}

TEST(SearchDriver, StrategyThatOnlyRepeatsItselfIsReportedAsExhausted) {
  Nb201Space space;
  ScriptedStrategy strategy({kA});
  SearchDriver driver(space, strategy);
  driver.complete(driver.next(), result(1.0));
  driver.set_max_free_proposals(50);
  try {
    driver.next();
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exhausted"), std::string::npos) << e.what();
  }
}

/// A table over the categorical space {4 x 4 x 4}: objective = sum of digits, report = objective + 1.
std::unique_ptr<TableEvaluator> tiny_table(const SearchSpace& space) {
  std::ostringstream csv;
  csv << "arch,valid,test\n";
  for (int a = 0; a < 4; ++a)
    for (int b = 0; b < 4; ++b)
      for (int c = 0; c < 4; ++c) csv << a << b << c << ',' << a + b + c << ',' << a + b + c + 1 << '\n';
  const auto file = write_file(fresh_directory() / "tiny.csv", csv.str());
  return std::make_unique<TableEvaluator>(file, space, TableColumns{"arch", "valid", "test"});
}

TEST(SimulatedSearch, ManyWorkersReturnInARandomOrderAndStopAtTheBest) {
  const auto space = testing::space_from("{name: categorical, choices: [4, 4, 4]}");
  auto table = tiny_table(*space);
  for (const std::uint32_t workers : {1u, 8u}) {
    RandomSearch random(*space, 4);
    SimulationOptions options;
    options.budget = 64;
    options.workers = workers;
    options.seed = 2;
    options.target_objective = table->max_objective();
    const auto trace = run_simulated_search(*space, random, *table, options);
    ASSERT_TRUE(trace.samples_to_best);
    EXPECT_EQ(trace.best_objective.size(), *trace.samples_to_best);
    EXPECT_EQ(trace.best_objective.back(), 9.0);
    EXPECT_TRUE(std::is_sorted(trace.best_objective.begin(), trace.best_objective.end()));
  }
}

TEST(Benchmark, RegretIsTheBestReportMinusTheReportOfTheBestObjectiveSoFar) {
  SearchTrace trace;
  trace.best_report = {80.0, 85.0, 85.0, 88.0};
  EXPECT_EQ(*regret_after(trace, 90.0, 1, 100), 10.0);
  EXPECT_EQ(*regret_after(trace, 90.0, 3, 100), 5.0);
  EXPECT_FALSE(regret_after(trace, 90.0, 5, 100));  // not reached and the run did not stop at the best
  trace.samples_to_best = 4;
  EXPECT_EQ(*regret_after(trace, 90.0, 50, 100), 2.0);  // a run that stopped keeps its final regret
  EXPECT_FALSE(regret_after(trace, 90.0, 200, 100));    // beyond the budget
  EXPECT_FALSE(regret_after(trace, 90.0, 0, 100));
}

TEST(Benchmark, MeanIntervalUsesStudentTForSmallSamples) {
  const auto m = mean_interval({1.0, 3.0});
  EXPECT_DOUBLE_EQ(m.mean, 2.0);
  EXPECT_NEAR(m.half_width, 12.706 * std::sqrt(2.0) / std::sqrt(2.0), 1e-9);
  std::vector<double> many(100);
  for (std::size_t i = 0; i < many.size(); ++i) many[i] = static_cast<double>(i % 2);
  const auto large = mean_interval(many);
  EXPECT_NEAR(large.half_width, 1.96 * std::sqrt(0.25 * 100.0 / 99.0) / 10.0, 1e-12);
  EXPECT_TRUE(std::isnan(mean_interval({}).mean));
}

TEST(Benchmark, SummaryGroupsByStrategyAndWorkersAndCountsUnfoundRuns) {
  std::vector<BenchmarkRun> runs;
  const auto run = [](const std::string& s, std::uint32_t w, std::optional<std::uint64_t> found, double r50) {
    BenchmarkRun r;
    r.strategy = s;
    r.workers = w;
    r.budget = 100;
    r.samples_to_best = found;
    r.regret_at = {r50, std::nullopt, std::nullopt, std::nullopt, std::nullopt};
    return r;
  };
  runs.push_back(run("a", 1, 10, 1.0));
  runs.push_back(run("a", 1, 30, 3.0));
  runs.push_back(run("a", 1, std::nullopt, 5.0));
  runs.push_back(run("a", 16, 20, 0.0));
  runs.push_back(run("b", 1, 40, 2.0));
  const auto rows = summarize(runs);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].strategy, "a");
  EXPECT_EQ(rows[0].workers, 1u);
  EXPECT_EQ(rows[0].seeds, 3u);
  EXPECT_DOUBLE_EQ(rows[0].found_fraction, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(rows[0].samples_to_best.mean, 20.0);
  EXPECT_DOUBLE_EQ(rows[0].samples_to_best_median, 20.0);
  EXPECT_DOUBLE_EQ(rows[0].regret_at[0].mean, 3.0);
  EXPECT_EQ(rows[0].regret_at[1].n, 0u);
  EXPECT_EQ(rows[1].workers, 16u);
  EXPECT_EQ(rows[2].strategy, "b");

  const auto dir = fresh_directory();
  write_runs_csv(dir / "runs.csv", runs);
  write_summary_csv(dir / "summary.csv", rows);
  std::ifstream in(dir / "runs.csv");
  std::string header, first;
  std::getline(in, header);
  std::getline(in, first);
  EXPECT_EQ(header.rfind("strategy,seed,workers,budget,samples_to_best,final_regret,regret_50,regret_100,regret_200,"
                         "regret_500,regret_1000",
                         0),
            0u);
  EXPECT_EQ(first.rfind("a,0,1,100,10,", 0), 0u) << first;
  std::ifstream summary(dir / "summary.csv");
  std::getline(summary, header);
  EXPECT_NE(header.find("found_fraction,samples_to_best_mean,samples_to_best_mean_ci95,samples_to_best_median"),
            std::string::npos);
  EXPECT_NE(header.find("regret_50_mean,regret_50_ci95"), std::string::npos);
}

TEST(Benchmark, RunOnATableReportsSamplesToBestAndRegretPoints) {
  const auto space = testing::space_from("{name: categorical, choices: [4, 4, 4]}");
  auto table = tiny_table(*space);
  const auto run = run_benchmark(*space, YAML::Load("{name: random}"), "random", *table, 3, 2, 64);
  ASSERT_TRUE(run.samples_to_best);
  EXPECT_LE(*run.samples_to_best, 64u);
  EXPECT_EQ(run.final_regret, 0.0);
  EXPECT_EQ(run.regret_curve.size(), *run.samples_to_best);
  ASSERT_EQ(run.regret_at.size(), kRegretPoints.size());
  EXPECT_EQ(*run.regret_at[0], 0.0);   // 50 <= budget: the stopped run keeps its final regret
  EXPECT_FALSE(run.regret_at[2]);      // 200 > budget
}

TEST(Benchmark, DecisionCostTimesTheRequestedNumberOfDecisions) {
  Nb101Space space;
  RandomSearch random(space, 1);
  const auto cost = measure_decision_cost(space, random, 30, 10, 2);
  EXPECT_EQ(cost.results, 30u);
  EXPECT_EQ(cost.timed, 10u);
  EXPECT_EQ(cost.space, "nb101");
  EXPECT_GE(cost.propose_p99_ms, cost.propose_median_ms);
  EXPECT_GE(cost.propose_median_ms, 0.0);
}

}  // namespace
}  // namespace alphax::search
