#include "alphax/search/search_benchmark.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <limits>
#include <map>
#include <sstream>
#include <stdexcept>

#include "alphax/search/registry.hpp"
#include "alphax/search/spaces.hpp"

namespace alphax::search {

std::optional<double> regret_after(const SearchTrace& trace, double max_report, std::uint64_t k, std::uint64_t budget) {
  if (k == 0 || k > budget || trace.best_report.empty()) return std::nullopt;
  if (k > trace.best_report.size() && !trace.samples_to_best) return std::nullopt;
  const auto index = std::min<std::size_t>(k, trace.best_report.size()) - 1;
  return max_report - trace.best_report[index];
}

BenchmarkRun run_benchmark(const SearchSpace& space, const YAML::Node& strategy_node, const std::string& label,
                           TableEvaluator& table, std::uint64_t seed, std::uint32_t workers, std::uint64_t budget) {
  const auto start = std::chrono::steady_clock::now();
  auto strategy = make_strategy(strategy_node, space, seed);
  SimulationOptions options;
  options.budget = budget;
  options.workers = workers;
  options.seed = mix64(seed ^ 0xb0b0ULL);
  options.target_objective = table.max_objective();
  const auto trace = run_simulated_search(space, *strategy, table, options);
  BenchmarkRun run;
  run.strategy = label;
  run.seed = seed;
  run.workers = workers;
  run.budget = budget;
  run.samples_to_best = trace.samples_to_best;
  run.free_proposals = trace.free_proposals;
  run.final_regret = trace.best_report.empty() ? table.max_report() : table.max_report() - trace.best_report.back();
  for (const auto k : kRegretPoints) run.regret_at.push_back(regret_after(trace, table.max_report(), k, budget));
  for (const auto r : trace.best_report) run.regret_curve.push_back(table.max_report() - r);
  run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return run;
}

MeanInterval mean_interval(const std::vector<double>& values) {
  MeanInterval m;
  m.n = values.size();
  if (values.empty()) {
    m.mean = m.half_width = std::numeric_limits<double>::quiet_NaN();
    return m;
  }
  double sum = 0.0;
  for (auto v : values) sum += v;
  m.mean = sum / static_cast<double>(m.n);
  if (m.n < 2) return m;
  double ss = 0.0;
  for (auto v : values) ss += (v - m.mean) * (v - m.mean);
  const double sd = std::sqrt(ss / static_cast<double>(m.n - 1));
  // Two-sided 97.5 % t quantiles for small samples, 1.96 beyond.
  static const double kT[] = {0, 12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                              2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                              2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045};
  const auto dof = m.n - 1;
  const double t = dof < 30 ? kT[dof] : 1.96;
  m.half_width = t * sd / std::sqrt(static_cast<double>(m.n));
  return m;
}

std::vector<SummaryRow> summarize(const std::vector<BenchmarkRun>& runs) {
  std::vector<std::pair<std::string, std::uint32_t>> order;
  std::map<std::pair<std::string, std::uint32_t>, std::vector<const BenchmarkRun*>> groups;
  for (const auto& r : runs) {
    const auto key = std::make_pair(r.strategy, r.workers);
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(&r);
  }
  std::vector<SummaryRow> rows;
  for (const auto& key : order) {
    const auto& group = groups[key];
    SummaryRow row;
    row.strategy = key.first;
    row.workers = key.second;
    row.seeds = group.size();
    row.budget = group.front()->budget;
    std::vector<double> found, finals;
    for (const auto* r : group) {
      if (r->samples_to_best) found.push_back(static_cast<double>(*r->samples_to_best));
      finals.push_back(r->final_regret);
    }
    row.found_fraction = static_cast<double>(found.size()) / static_cast<double>(group.size());
    row.samples_to_best = mean_interval(found);
    if (found.empty()) {
      row.samples_to_best_median = std::numeric_limits<double>::quiet_NaN();
    } else {
      auto sorted = found;
      std::sort(sorted.begin(), sorted.end());
      const auto n = sorted.size();
      row.samples_to_best_median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    }
    for (std::size_t i = 0; i < kRegretPoints.size(); ++i) {
      std::vector<double> values;
      for (const auto* r : group)
        if (r->regret_at[i]) values.push_back(*r->regret_at[i]);
      row.regret_at.push_back(mean_interval(values));
    }
    row.final_regret = mean_interval(finals);
    rows.push_back(std::move(row));
  }
  return rows;
}

namespace {
std::ofstream open_out(const std::filesystem::path& file) {
  std::ofstream out(file);
  if (!out) throw std::runtime_error("cannot write '" + file.string() + "' (does the --out directory exist and is it writable?)");
  out << std::setprecision(10);
  return out;
}
std::string cell(double v) {
  if (std::isnan(v)) return "";
  std::ostringstream s;
  s << std::setprecision(10) << v;
  return s.str();
}
}  // namespace

void write_runs_csv(const std::filesystem::path& file, const std::vector<BenchmarkRun>& runs) {
  auto out = open_out(file);
  out << "strategy,seed,workers,budget,samples_to_best,final_regret";
  for (const auto k : kRegretPoints) out << ",regret_" << k;
  out << ",free_proposals,seconds\n";
  for (const auto& r : runs) {
    out << r.strategy << ',' << r.seed << ',' << r.workers << ',' << r.budget << ','
        << (r.samples_to_best ? std::to_string(*r.samples_to_best) : "") << ',' << cell(r.final_regret);
    for (const auto& v : r.regret_at) out << ',' << (v ? cell(*v) : "");
    out << ',' << r.free_proposals << ',' << cell(r.seconds) << '\n';
  }
}

void write_summary_csv(const std::filesystem::path& file, const std::vector<SummaryRow>& rows) {
  auto out = open_out(file);
  out << "strategy,seeds,workers,budget,found_fraction,samples_to_best_mean,samples_to_best_mean_ci95,"
         "samples_to_best_median";
  for (const auto k : kRegretPoints) out << ",regret_" << k << "_mean,regret_" << k << "_ci95";
  out << ",final_regret_mean,final_regret_ci95\n";
  for (const auto& r : rows) {
    out << r.strategy << ',' << r.seeds << ',' << r.workers << ',' << r.budget << ',' << cell(r.found_fraction) << ','
        << cell(r.samples_to_best.mean) << ',' << cell(r.samples_to_best.half_width) << ','
        << cell(r.samples_to_best_median);
    for (const auto& m : r.regret_at) out << ',' << cell(m.mean) << ',' << cell(m.half_width);
    out << ',' << cell(r.final_regret.mean) << ',' << cell(r.final_regret.half_width) << '\n';
  }
}

namespace {
double regret_at_sample(const BenchmarkRun& r, std::size_t index) {
  if (index < r.regret_curve.size()) return r.regret_curve[index];
  return r.samples_to_best ? r.final_regret : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

void write_curves_csv(const std::filesystem::path& file, const std::vector<BenchmarkRun>& runs, std::uint64_t limit) {
  auto out = open_out(file);
  out << "strategy,workers,seed,sample,regret\n";
  for (const auto& r : runs) {
    const auto n = std::min<std::uint64_t>(limit, r.regret_curve.size());
    for (std::uint64_t k = 0; k < n; ++k)
      out << r.strategy << ',' << r.workers << ',' << r.seed << ',' << k + 1 << ',' << cell(r.regret_curve[k]) << '\n';
  }
}

void write_mean_curves_csv(const std::filesystem::path& file, const std::vector<BenchmarkRun>& runs,
                           std::uint64_t limit) {
  auto out = open_out(file);
  out << "strategy,workers,sample,mean_regret,runs\n";
  for (const auto& row : summarize(runs)) {
    const auto n = std::min<std::uint64_t>(limit, row.budget);
    for (std::uint64_t k = 0; k < n; ++k) {
      double sum = 0.0;
      std::size_t count = 0;
      for (const auto& r : runs) {
        if (r.strategy != row.strategy || r.workers != row.workers) continue;
        const double v = regret_at_sample(r, k);
        if (std::isnan(v)) continue;
        sum += v;
        ++count;
      }
      if (count) out << row.strategy << ',' << row.workers << ',' << k + 1 << ',' << cell(sum / count) << ',' << count << '\n';
    }
  }
}

std::string format_summary(const std::vector<SummaryRow>& rows) {
  std::ostringstream s;
  s << std::fixed;
  s << std::left << std::setw(18) << "strategy" << std::right << std::setw(6) << "seeds" << std::setw(8) << "workers"
    << std::setw(8) << "budget" << std::setw(7) << "found" << std::setw(18) << "samples->best" << std::setw(8) << "median";
  for (const auto k : kRegretPoints) s << std::setw(16) << ("regret@" + std::to_string(k));
  s << '\n';
  const auto mi = [](const MeanInterval& m, int precision) {
    std::ostringstream o;
    if (std::isnan(m.mean)) return std::string("-");
    o << std::fixed << std::setprecision(precision) << m.mean << "±" << m.half_width;
    return o.str();
  };
  for (const auto& r : rows) {
    s << std::left << std::setw(18) << r.strategy << std::right << std::setw(6) << r.seeds << std::setw(8) << r.workers
      << std::setw(8) << r.budget << std::setw(7) << std::setprecision(2) << r.found_fraction << std::setw(19)
      << mi(r.samples_to_best, 1) << std::setw(8) << std::setprecision(1) << r.samples_to_best_median;
    for (const auto& m : r.regret_at) s << std::setw(17) << mi(m, 3);
    s << '\n';
  }
  return s.str();
}

DecisionCost measure_decision_cost(const SearchSpace& space, SearchStrategy& strategy, std::uint64_t results,
                                   std::uint64_t timed, std::uint64_t seed) {
  // Synthetic objective: a seeded random linear function of the encoding plus pairwise terms of
  // neighbouring features, so models have something to learn; deterministic per architecture.
  Rng rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> w(space.encoding_size()), pair(space.encoding_size());
  for (auto& v : w) v = normal(rng);
  for (auto& v : pair) v = 0.5 * normal(rng);
  const auto objective = [&](const Genome& g) {
    const auto x = space.encode(g);
    double s = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) s += w[i] * x[i] + pair[i] * x[i] * x[(i + 1) % x.size()];
    return s;
  };
  SearchDriver driver(space, strategy);
  std::vector<double> propose_ms, result_ms;
  for (std::uint64_t i = 0; i < results + timed; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    const Proposal p = driver.next();
    const auto t1 = std::chrono::steady_clock::now();
    EvalResult r;
    r.objective = r.report = objective(p.genome);
    driver.complete(p, r);
    const auto t2 = std::chrono::steady_clock::now();
    if (i >= results) {
      propose_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      result_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
  }
  const auto quantile = [](std::vector<double> v, double q) {
    if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(v.begin(), v.end());
    const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
    return v[std::min(index, v.size() - 1)];
  };
  DecisionCost cost;
  cost.strategy = strategy.name();
  cost.space = space.name();
  cost.results = results;
  cost.timed = timed;
  cost.propose_median_ms = quantile(propose_ms, 0.5);
  cost.propose_p99_ms = quantile(propose_ms, 0.99);
  cost.result_median_ms = quantile(result_ms, 0.5);
  cost.result_p99_ms = quantile(result_ms, 0.99);
  return cost;
}

}  // namespace alphax::search
