#include "alphax/search/search_driver.hpp"

#include <algorithm>
#include <queue>
#include <stdexcept>

#include "surrogate.hpp"

namespace alphax::search {

SearchDriver::SearchDriver(const SearchSpace& space, SearchStrategy& strategy) : space_(&space), strategy_(&strategy) {}

Proposal SearchDriver::next() {
  for (std::uint64_t streak = 0;; ++streak) {
    if (streak >= max_free_proposals_)
      throw std::runtime_error("SearchDriver::next: strategy '" + strategy_->name() + "' made " +
                               std::to_string(streak) +
                               " re-proposals of known classes in a row; the space looks exhausted "
                               "(lower the budget or the number of workers)");
    Proposal p = strategy_->propose();
    if (!space_->is_valid(p.genome))
      throw std::logic_error("SearchDriver::next: strategy '" + strategy_->name() + "' proposed an invalid genome");
    const auto h = space_->canonical_hash(p.genome);
    if (const auto it = cache_.find(h); it != cache_.end()) {
      ++free_proposals_;
      strategy_->on_result(p, it->second);  // isomorphs are free
      continue;
    }
    if (in_flight_.count(h)) {
      ++free_proposals_;
      waiting_[h].push_back(std::move(p));  // answered when the running evaluation returns
      continue;
    }
    in_flight_.emplace(h, p);
    strategy_->on_dispatch(p);
    return p;
  }
}

void SearchDriver::complete(const Proposal& proposal, const EvalResult& result) {
  const auto h = space_->canonical_hash(proposal.genome);
  const auto it = in_flight_.find(h);
  if (it == in_flight_.end() || it->second.id != proposal.id)
    throw std::logic_error("SearchDriver::complete: proposal " + std::to_string(proposal.id) +
                           " was not handed out by next() or was completed already");
  in_flight_.erase(it);
  record(proposal, result);
  strategy_->on_result(proposal, result);
  if (const auto w = waiting_.find(h); w != waiting_.end()) {
    const auto joined = std::move(w->second);
    waiting_.erase(w);
    for (const auto& p : joined) strategy_->on_result(p, result);
  }
}

void SearchDriver::record(const Proposal& proposal, const EvalResult& result) {
  cache_.emplace(space_->canonical_hash(proposal.genome), result);
  ++unique_samples_;
  if (result.status == EvalStatus::ok && (!best_.valid || result.objective > best_.result.objective)) {
    best_.valid = true;
    best_.genome = proposal.genome;
    best_.result = result;
    best_.sample = unique_samples_;
  }
}

std::optional<EvalResult> SearchDriver::cached(std::uint64_t canonical_hash) const {
  const auto it = cache_.find(canonical_hash);
  if (it == cache_.end()) return std::nullopt;
  return it->second;
}

std::vector<Proposal> SearchDriver::in_flight_proposals() const {
  std::vector<Proposal> result;
  for (const auto& [h, p] : in_flight_) result.push_back(p);
  std::sort(result.begin(), result.end(), [](const Proposal& a, const Proposal& b) { return a.id < b.id; });
  return result;
}

namespace {
void put_results(StateArchive& a, const std::vector<EvalResult>& results) {
  std::vector<std::int64_t> status, params;
  std::vector<double> numbers;
  std::string messages;
  for (const auto& r : results) {
    status.push_back(static_cast<std::int64_t>(r.status));
    params.push_back(r.params);
    numbers.insert(numbers.end(), {r.objective, r.report, r.flops, r.train_seconds});
    messages += r.message;
    messages += '\n';
  }
  a.put("status", status);
  a.put("params", params);
  a.put("numbers", numbers);
  a.put("messages", messages);
}

std::vector<EvalResult> get_results(const StateArchive& a) {
  const auto& status = a.ints("status");
  const auto& params = a.ints("params");
  const auto& numbers = a.doubles("numbers");
  const auto& messages = a.text("messages");
  std::vector<EvalResult> results(status.size());
  std::size_t pos = 0;
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto& r = results[i];
    r.status = static_cast<EvalStatus>(status[i]);
    r.params = params.at(i);
    r.objective = numbers.at(4 * i);
    r.report = numbers.at(4 * i + 1);
    r.flops = numbers.at(4 * i + 2);
    r.train_seconds = numbers.at(4 * i + 3);
    const auto end = messages.find('\n', pos);
    r.message = messages.substr(pos, end - pos);
    pos = end + 1;
  }
  return results;
}

void put_proposals(StateArchive& a, const std::vector<Proposal>& proposals) {
  std::vector<std::uint64_t> ids;
  std::vector<double> predicted;
  std::vector<Genome> genomes;
  for (const auto& p : proposals) {
    ids.push_back(p.id);
    predicted.push_back(p.predicted);
    genomes.push_back(p.genome);
  }
  a.put("ids", ids);
  a.put("predicted", predicted);
  detail::put_genomes(a, "genome", genomes);
}

std::vector<Proposal> get_proposals(const StateArchive& a) {
  const auto& ids = a.uints("ids");
  const auto& predicted = a.doubles("predicted");
  auto genomes = detail::get_genomes(a, "genome");
  std::vector<Proposal> result;
  for (std::size_t i = 0; i < ids.size(); ++i) result.push_back({ids[i], std::move(genomes.at(i)), predicted.at(i)});
  return result;
}
}  // namespace

void SearchDriver::save(StateArchive& archive) const {
  archive.put("counters", std::vector<std::uint64_t>{unique_samples_, free_proposals_, best_.sample,
                                                     best_.valid ? 1u : 0u});
  std::vector<std::uint64_t> hashes;
  for (const auto& [h, r] : cache_) hashes.push_back(h);
  std::sort(hashes.begin(), hashes.end());
  std::vector<EvalResult> results;
  for (const auto h : hashes) results.push_back(cache_.at(h));
  auto& cache = archive.child("cache");
  cache.put("hashes", hashes);
  put_results(cache, results);
  auto& best = archive.child("best");
  put_results(best, {best_.result});
  detail::put_genomes(best, "genome", {best_.genome});
  put_proposals(archive.child("in_flight"), in_flight_proposals());
  std::vector<Proposal> waiting;
  std::vector<std::uint64_t> keys;
  for (const auto& [h, list] : waiting_) keys.push_back(h);
  std::sort(keys.begin(), keys.end());
  for (const auto k : keys) waiting.insert(waiting.end(), waiting_.at(k).begin(), waiting_.at(k).end());
  put_proposals(archive.child("waiting"), waiting);
}

void SearchDriver::load(const StateArchive& archive) {
  const auto& counters = archive.uints("counters");
  unique_samples_ = counters.at(0);
  free_proposals_ = counters.at(1);
  best_.sample = counters.at(2);
  best_.valid = counters.at(3) != 0;
  const auto& cache = archive.child("cache");
  const auto& hashes = cache.uints("hashes");
  const auto results = get_results(cache);
  cache_.clear();
  for (std::size_t i = 0; i < hashes.size(); ++i) cache_.emplace(hashes[i], results.at(i));
  const auto& best = archive.child("best");
  best_.result = get_results(best).at(0);
  best_.genome = detail::get_genomes(best, "genome").at(0);
  in_flight_.clear();
  for (auto& p : get_proposals(archive.child("in_flight"))) in_flight_.emplace(space_->canonical_hash(p.genome), p);
  waiting_.clear();
  for (auto& p : get_proposals(archive.child("waiting"))) waiting_[space_->canonical_hash(p.genome)].push_back(p);
}

SearchTrace run_simulated_search(const SearchSpace& space, SearchStrategy& strategy, Evaluator& evaluator,
                                 const SimulationOptions& options) {
  if (options.workers == 0) throw std::invalid_argument("run_simulated_search: workers must be at least 1");
  SearchDriver driver(space, strategy);
  Rng rng(options.seed);
  std::exponential_distribution<double> default_time(1.0);
  struct Event {
    double finish;
    std::uint64_t order;
    Proposal proposal;
    EvalResult result;
  };
  const auto later = [](const Event& a, const Event& b) {
    return a.finish > b.finish || (a.finish == b.finish && a.order > b.order);
  };
  std::priority_queue<Event, std::vector<Event>, decltype(later)> running(later);
  SearchTrace trace;
  double now = 0.0;
  std::uint64_t dispatched = 0;
  while (driver.unique_samples() < options.budget) {
    while (running.size() < options.workers && dispatched < options.budget) {
      Proposal p = driver.next();
      EvalResult r = evaluator.evaluate(space, p.genome);
      const double duration = r.train_seconds > 0.0 ? r.train_seconds : default_time(rng);
      running.push({now + duration, dispatched++, std::move(p), std::move(r)});
    }
    Event e = running.top();
    running.pop();
    now = e.finish;
    driver.complete(e.proposal, e.result);
    const auto& best = driver.best();
    trace.best_objective.push_back(best.valid ? best.result.objective : 0.0);
    trace.best_report.push_back(best.valid ? best.result.report : 0.0);
    if (options.target_objective && best.valid && best.result.objective >= *options.target_objective) {
      trace.samples_to_best = driver.unique_samples();
      break;
    }
  }
  trace.free_proposals = driver.free_proposals();
  return trace;
}

}  // namespace alphax::search
