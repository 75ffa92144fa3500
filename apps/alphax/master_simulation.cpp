#include "alphax/master_simulation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <queue>
#include <stdexcept>
#include <vector>

namespace alphax::app {
namespace {

struct Arrival {
  double time = 0.0;
  std::uint64_t sequence = 0;  // ties: first sent, first served
  int group = 0;
  search::EvalResult result;
  bool operator>(const Arrival& other) const {
    return time != other.time ? time > other.time : sequence > other.sequence;
  }
};

struct Interval {
  double begin = 0.0;
  double end = 0.0;
};

double busy_share(const std::vector<Interval>& busy, double from, double to, int workers) {
  if (to <= from || workers <= 0) return 0.0;
  double seconds = 0.0;
  for (const auto& b : busy) seconds += std::max(0.0, std::min(b.end, to) - std::max(b.begin, from));
  return seconds / ((to - from) * workers);
}

// The simulation state between master calls.
class VirtualWorkers {
 public:
  VirtualWorkers(Master& master, const VirtualWorkerSettings& settings,
                 const std::function<search::EvalResult(const search::Genome&)>& evaluate)
      : master_(master), settings_(settings), evaluate_(evaluate), rng_(settings.seed) {}

  VirtualWorkerReport run() {
    ramp_up();
    report_.ramp_up_seconds = last_send_;
    double queued = 0.0;
    while (!arrivals_.empty() && !master_.done()) {
      const Arrival next = arrivals_.top();
      arrivals_.pop();
      const double start = std::max(next.time, master_free_);
      queued += start - next.time;
      report_.max_queue_seconds = std::max(report_.max_queue_seconds, start - next.time);
      call(start, [&](double now) { return master_.on_result(next.group, next.result, now); });
    }
    if (!master_.done()) throw std::logic_error("simulate_virtual_workers: nothing in flight but the master is not done");
    report_.workers = master_.num_groups();
    report_.results = master_.results();
    report_.stop_seconds = last_dispatch_;
    report_.utilisation = busy_share(busy_, 0.0, last_dispatch_, report_.workers);
    report_.steady_utilisation = busy_share(busy_, report_.ramp_up_seconds, last_dispatch_, report_.workers);
    report_.decisions_per_second =
        report_.master_seconds > 0 ? static_cast<double>(report_.dispatches) / report_.master_seconds : 0.0;
    report_.demand_per_second = report_.workers / settings_.mean_evaluation_seconds;
    report_.mean_queue_seconds = report_.results > 0 ? queued / static_cast<double>(report_.results) : 0.0;
    report_.checkpoints = master_.checkpoints_written();
    return report_;
  }

 private:
  // One master call at simulated time `start`: its wall time moves the clock, then its
  // dispatches go out one message at a time.
  template <typename Call>
  void call(double start, Call&& function) {
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<Dispatch> dispatches = function(start);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report_.master_seconds += seconds;
    report_.max_call_seconds = std::max(report_.max_call_seconds, seconds);
    double clock = start + seconds;
    for (const auto& d : dispatches) {
      clock += settings_.send_cpu_seconds;
      send(d, clock);
    }
    master_free_ = clock;
    last_send_ = clock;
  }

  // Master::start streams its dispatches: each leaves once the master has decided it and sent
  // the ones before (the simulation's own bookkeeping in the sink is not the master's time).
  void ramp_up() {
    const auto t0 = std::chrono::steady_clock::now();
    double sink_seconds = 0.0;
    double sending = 0.0;
    master_.start(0.0, [&](const Dispatch& d) {
      const auto s0 = std::chrono::steady_clock::now();
      sending += settings_.send_cpu_seconds;
      send(d, std::chrono::duration<double>(s0 - t0).count() - sink_seconds + sending);
      sink_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - s0).count();
    });
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() - sink_seconds;
    report_.master_seconds += seconds;
    report_.max_call_seconds = std::max(report_.max_call_seconds, seconds);
    master_free_ = seconds + sending;
    last_send_ = master_free_;
  }

  void send(const Dispatch& d, double sent) {
    search::EvalResult result = evaluate_(d.genome);
    const double begin = sent + latency();
    const double end = begin + result.train_seconds;
    busy_.push_back({begin, end});
    arrivals_.push({end + latency(), sequence_++, d.group, std::move(result)});
    ++report_.dispatches;
    last_dispatch_ = sent;
  }

  double latency() {
    if (settings_.message_latency_seconds <= 0) return 0.0;
    return std::exponential_distribution<double>(1.0 / settings_.message_latency_seconds)(rng_);
  }

  Master& master_;
  const VirtualWorkerSettings& settings_;
  const std::function<search::EvalResult(const search::Genome&)>& evaluate_;
  std::mt19937_64 rng_;
  std::priority_queue<Arrival, std::vector<Arrival>, std::greater<>> arrivals_;
  std::vector<Interval> busy_;
  std::uint64_t sequence_ = 0;
  double master_free_ = 0.0;
  double last_send_ = 0.0;
  double last_dispatch_ = 0.0;
  VirtualWorkerReport report_;
};

template <typename Call>
double seconds_of(Call&& call) {
  const auto t0 = std::chrono::steady_clock::now();
  call();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

search::Proposal TimedStrategy::propose() {
  search::Proposal proposal;
  totals_.propose += seconds_of([&] { proposal = inner_->propose(); });
  ++totals_.proposals;
  return proposal;
}

void TimedStrategy::on_dispatch(const search::Proposal& proposal) {
  totals_.on_dispatch += seconds_of([&] { inner_->on_dispatch(proposal); });
  ++totals_.dispatches;
}

void TimedStrategy::on_result(const search::Proposal& proposal, const search::EvalResult& result) {
  totals_.on_result += seconds_of([&] { inner_->on_result(proposal, result); });
  ++totals_.results;
}

DurationModel::Kind DurationModel::parse_kind(const std::string& name) {
  if (name == "constant") return Kind::constant;
  if (name == "exponential") return Kind::exponential;
  if (name == "lognormal") return Kind::lognormal;
  throw std::invalid_argument("evaluation time distribution '" + name + "': use constant | exponential | lognormal");
}

double DurationModel::draw(std::mt19937_64& rng) const {
  switch (kind) {
    case Kind::constant: return mean_seconds;
    case Kind::exponential: return std::exponential_distribution<double>(1.0 / mean_seconds)(rng);
    case Kind::lognormal: {
      // E[X] = exp(mu + sigma^2 / 2) = mean.
      const double mu = std::log(mean_seconds) - 0.5 * sigma * sigma;
      return std::lognormal_distribution<double>(mu, sigma)(rng);
    }
  }
  return mean_seconds;
}

double DurationModel::draw_for(std::uint64_t seed, std::uint64_t key) const {
  std::seed_seq sequence{seed, key, key >> 32};
  std::mt19937_64 rng(sequence);
  return draw(rng);
}

VirtualWorkerReport simulate_virtual_workers(Master& master, const VirtualWorkerSettings& settings,
                                             const std::function<search::EvalResult(const search::Genome&)>& evaluate) {
  if (!(settings.mean_evaluation_seconds > 0))
    throw std::invalid_argument("simulate_virtual_workers: the mean evaluation time must be > 0");
  return VirtualWorkers(master, settings, evaluate).run();
}

SyntheticLandscape::SyntheticLandscape(const search::SearchSpace& space, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  const auto n = space.encoding_size();
  const double scale = 1.0 / std::sqrt(static_cast<double>(std::max<std::size_t>(n, 1)));
  linear_.resize(n);
  pairwise_.resize(n);
  for (auto& w : linear_) w = 2.0 * scale * normal(rng);
  for (auto& w : pairwise_) w = scale * normal(rng);
}

search::EvalResult SyntheticLandscape::evaluate(const search::SearchSpace& space, const search::Genome& genome) {
  const auto x = space.encode(genome);
  double s = 0.0;
  for (std::size_t i = 0; i < x.size() && i < linear_.size(); ++i)
    s += linear_[i] * x[i] + pairwise_[i] * x[i] * x[(i + 1) % x.size()];
  search::EvalResult result;
  result.objective = 67.5 + 27.5 * std::tanh(s);
  result.report = result.objective;
  return result;
}

}  // namespace alphax::app
