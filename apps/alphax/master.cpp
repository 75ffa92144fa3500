#include "alphax/master.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "alphax/checkpoint.hpp"
#include "alphax/search_log.hpp"

namespace alphax::app {

MasterOptions MasterOptions::from(const RunConfig& config) {
  MasterOptions options;
  options.max_evaluations = config.max_evaluations;
  options.target_objective = config.target_objective;
  options.order = config.order;
  options.checkpoint_every_results = config.checkpoint_every_results;
  options.checkpoint_every_seconds = config.checkpoint_every_seconds;
  options.stop_after_results = config.stop_after_results;
  options.config_text = config.effective_text;
  return options;
}

Master::Master(MasterOptions options, const search::SearchSpace& space, search::SearchStrategy& strategy,
               int num_groups, SearchLog* log, const CheckpointStore* store)
    : options_(std::move(options)), space_(&space), strategy_(&strategy), driver_(space, strategy), log_(log),
      store_(store), groups_(static_cast<std::size_t>(num_groups)) {
  if (num_groups < 1) throw std::invalid_argument("Master: needs at least one trainer group");
}

double Master::known_seconds(const search::Genome& genome) const {
  if (!options_.dispatch_cost) return -1.0;
  const double seconds = options_.dispatch_cost(genome);
  return std::isfinite(seconds) && seconds > 0.0 ? seconds : 0.0;
}

double Master::virtual_seconds(const InFlight& flight, const search::EvalResult& result) const {
  if (flight.known_seconds >= 0.0) return flight.known_seconds;
  const double seconds = options_.virtual_seconds ? options_.virtual_seconds(result) : result.train_seconds;
  return std::isfinite(seconds) && seconds > 0.0 ? seconds : 0.0;
}

Master::GroupKey Master::running_key(int g) const {
  const auto& flight = *groups_[static_cast<std::size_t>(g)].flight;
  return {flight.dispatch_virtual + std::max(0.0, flight.known_seconds), g};
}

std::vector<Dispatch> Master::start(double now) {
  std::vector<Dispatch> out;
  start(now, [&out](const Dispatch& d) { out.push_back(d); });
  return out;
}

void Master::start(double now, const DispatchSink& send) {
  checkpoint_wall_ = now;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    auto& group = groups_[g];
    if (!group.flight) continue;
    group.flight->dispatch_wall = now;
    send({static_cast<int>(g), group.flight->eval_id, group.flight->proposal.genome});
  }
  fill_idle(now, send);
  update_phase(now);
}

void Master::fill_idle(double now, const DispatchSink& send) {
  for (std::size_t g = 0; g < groups_.size(); ++g)
    if (!groups_[g].flight) dispatch_to(static_cast<int>(g), now, send);
}

void Master::dispatch_to(int g, double now, const DispatchSink& send) {
  if (phase_ != MasterPhase::running || target_reached_ || no_more_proposals_ ||
      dispatched_ >= options_.max_evaluations)
    return;
  search::Proposal proposal;
  try {
    proposal = driver_.next();  // calls strategy.on_dispatch: preemptive backpropagation
  } catch (const std::runtime_error& e) {
    no_more_proposals_ = true;
    stop_reason_ = std::string("the strategy has no new architecture to propose (") + e.what() + ")";
    return;
  }
  auto& group = groups_[static_cast<std::size_t>(g)];
  group.flight = InFlight{proposal, static_cast<std::int64_t>(dispatched_), now, group.clock,
                          known_seconds(proposal.genome)};
  running_.insert(running_key(g));
  ++in_flight_;
  ++dispatched_;
  const Dispatch dispatch{g, group.flight->eval_id, proposal.genome};
  if (options_.on_dispatch) options_.on_dispatch(dispatch);
  send(dispatch);
}

std::optional<int> Master::next_consumable() const {
  if (arrived_.empty()) return std::nullopt;
  const GroupKey best = *arrived_.begin();
  if (options_.order == ResultOrder::arrival) return best.second;
  // Held back while a busy group could still finish first (durations are >= 0; ties by group).
  if (!running_.empty() && *running_.begin() < best) return std::nullopt;
  return best.second;
}

std::vector<Dispatch> Master::on_result(int g, const search::EvalResult& result, double now) {
  if (g < 0 || g >= num_groups() || !groups_[static_cast<std::size_t>(g)].flight ||
      groups_[static_cast<std::size_t>(g)].result)
    throw std::logic_error("Master::on_result: group " + std::to_string(g) + " has no evaluation in flight");
  auto& group = groups_[static_cast<std::size_t>(g)];
  running_.erase(running_key(g));
  group.result = result;
  group.arrival_wall = now;
  group.arrived_key = options_.order == ResultOrder::arrival
                          ? GroupKey{arrivals_++, g}
                          : GroupKey{group.flight->dispatch_virtual + virtual_seconds(*group.flight, result), g};
  arrived_.insert(group.arrived_key);
  busy_seconds_ += std::max(0.0, now - group.flight->dispatch_wall);
  std::vector<Dispatch> out;
  const DispatchSink collect = [&out](const Dispatch& d) { out.push_back(d); };
  if (phase_ == MasterPhase::preempted) return out;
  while (!stop_requested_) {
    const auto next = next_consumable();
    if (!next) break;
    consume(*next, now, collect);
  }
  maybe_checkpoint(now);
  update_phase(now);
  return out;
}

void Master::consume(int g, double now, const DispatchSink& send) {
  auto& group = groups_[static_cast<std::size_t>(g)];
  const InFlight flight = *group.flight;
  search::EvalResult result = *group.result;
  if (result.status == search::EvalStatus::ok && !std::isfinite(result.objective)) {
    result.status = search::EvalStatus::diverged;
    if (result.message.empty()) result.message = "objective is not finite";
  }
  const double finish_virtual = flight.dispatch_virtual + virtual_seconds(flight, result);
  arrived_.erase(group.arrived_key);
  --in_flight_;
  group.flight.reset();
  group.result.reset();
  group.clock = finish_virtual;
  driver_.complete(flight.proposal, result);
  if (options_.on_consume) options_.on_consume(flight.eval_id, result);
  ++results_;
  if (log_) {
    EvaluationRecord record;
    record.id = flight.eval_id;
    record.canonical_hash = space_->canonical_hash(flight.proposal.genome);
    record.arch = space_->format(flight.proposal.genome);
    record.strategy = strategy_->name();
    record.group = g;
    record.dispatch_time = flight.dispatch_wall;
    record.finish_time = group.arrival_wall;
    record.virtual_finish = finish_virtual;
    record.predicted = flight.proposal.predicted;
    record.objective = result.objective;
    record.report = result.report;
    record.params = result.params;
    record.flops = result.flops;
    record.train_seconds = result.train_seconds;
    record.status = result.status;
    log_->append(record);
  }
  if (options_.target_objective && result.status == search::EvalStatus::ok &&
      result.objective >= *options_.target_objective && !target_reached_) {
    target_reached_ = true;
    stop_reason_ = "target objective " + std::to_string(*options_.target_objective) + " reached";
  }
  dispatch_to(g, now, send);
  // Stop only after the replacement went out: the checkpoint then holds exactly the state an
  // uninterrupted run has at this point (the restart-equality guarantee).
  const std::uint64_t count = log_ ? log_->rows() : results_;
  if (options_.stop_after_results > 0 && count == options_.stop_after_results) stop_requested_ = true;
}

void Master::update_phase(double now) {
  if (done()) return;
  if (stop_requested_) {
    preempt(now);
    return;
  }
  const bool any_in_flight = in_flight_ > 0;
  const bool exhausted = target_reached_ || no_more_proposals_ || dispatched_ >= options_.max_evaluations;
  if (!exhausted) return;
  if (stop_reason_.empty()) stop_reason_ = "budget of " + std::to_string(options_.max_evaluations) + " evaluations spent";
  if (any_in_flight) {
    phase_ = MasterPhase::draining;
    return;
  }
  write_checkpoint(now);
  phase_ = MasterPhase::finished;
}

void Master::maybe_checkpoint(double now) {
  const bool by_count = options_.checkpoint_every_results > 0 &&
                        results_ - results_at_checkpoint_ >= options_.checkpoint_every_results;
  const bool by_time = options_.checkpoint_every_seconds > 0 && now - checkpoint_wall_ >= options_.checkpoint_every_seconds;
  if (by_count || by_time) write_checkpoint(now);
}

void Master::write_checkpoint(double now) {
  results_at_checkpoint_ = results_;
  checkpoint_wall_ = now;
  if (!store_) return;
  store_->save(snapshot(now));
  ++checkpoints_written_;
}

void Master::preempt(double now) {
  if (done()) return;
  write_checkpoint(now);
  phase_ = MasterPhase::preempted;
  stop_reason_ = "stopped and checkpointed on request";
}

search::StateArchive Master::snapshot(double now) const {
  search::StateArchive state;
  strategy_->save(state.child("strategy"));
  driver_.save(state.child("driver"));
  auto& m = state.child("master");
  m.put("config", options_.config_text);
  m.put_scalar("num_groups", static_cast<std::int64_t>(groups_.size()));
  m.put_scalar("dispatched", static_cast<std::uint64_t>(dispatched_));
  m.put_scalar("results", static_cast<std::uint64_t>(results_));
  m.put_scalar("log_rows", static_cast<std::uint64_t>(log_ ? log_->rows() : results_));
  m.put_scalar("elapsed_seconds", now);
  m.put_scalar("target_reached", static_cast<std::int64_t>(target_reached_));
  m.put_scalar("genome_length", static_cast<std::int64_t>(space_->genome_length()));
  std::vector<double> clocks;
  std::vector<std::int64_t> flight_group, flight_eval, genomes;
  std::vector<std::uint64_t> flight_proposal;
  std::vector<double> flight_predicted, flight_virtual;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    clocks.push_back(groups_[g].clock);
    if (!groups_[g].flight) continue;
    const auto& f = *groups_[g].flight;
    flight_group.push_back(static_cast<std::int64_t>(g));
    flight_eval.push_back(f.eval_id);
    flight_proposal.push_back(f.proposal.id);
    flight_predicted.push_back(f.proposal.predicted);
    flight_virtual.push_back(f.dispatch_virtual);
    genomes.insert(genomes.end(), f.proposal.genome.begin(), f.proposal.genome.end());
  }
  m.put("group_clocks", clocks);
  m.put("in_flight_group", flight_group);
  m.put("in_flight_eval_id", flight_eval);
  m.put("in_flight_proposal_id", flight_proposal);
  m.put("in_flight_predicted", flight_predicted);
  m.put("in_flight_dispatch_virtual", flight_virtual);
  m.put("in_flight_genomes", genomes);
  return state;
}

void Master::restore(const search::StateArchive& state) {
  const auto& m = state.child("master");
  const auto saved_groups = m.scalar_int("num_groups");
  if (saved_groups != num_groups())
    throw std::runtime_error("restart: the checkpoint was written with " + std::to_string(saved_groups) +
                             " trainer groups, this job has " + std::to_string(num_groups()) +
                             "; restart with the same number of ranks and trainers.group_size");
  const auto length = static_cast<std::size_t>(m.scalar_int("genome_length"));
  if (length != space_->genome_length())
    throw std::runtime_error("restart: the checkpoint's architectures have " + std::to_string(length) +
                             " positions, the configured space has " + std::to_string(space_->genome_length()) +
                             "; restart with the same space");
  strategy_->load(state.child("strategy"));
  driver_.load(state.child("driver"));
  dispatched_ = m.scalar_uint("dispatched");
  results_ = m.scalar_uint("results");
  results_at_checkpoint_ = results_;
  target_reached_ = m.scalar_int("target_reached") != 0;
  const auto& clocks = m.doubles("group_clocks");
  const auto& flight_group = m.ints("in_flight_group");
  const auto& flight_eval = m.ints("in_flight_eval_id");
  const auto& flight_proposal = m.uints("in_flight_proposal_id");
  const auto& flight_predicted = m.doubles("in_flight_predicted");
  const auto& flight_virtual = m.doubles("in_flight_dispatch_virtual");
  const auto& genomes = m.ints("in_flight_genomes");
  running_.clear();
  arrived_.clear();
  in_flight_ = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) groups_[g] = Group{std::nullopt, std::nullopt, 0.0, clocks.at(g), {}};
  for (std::size_t i = 0; i < flight_group.size(); ++i) {
    InFlight f;
    f.eval_id = flight_eval.at(i);
    f.proposal.id = flight_proposal.at(i);
    f.proposal.predicted = flight_predicted.at(i);
    f.proposal.genome.assign(genomes.begin() + static_cast<std::ptrdiff_t>(i * length),
                             genomes.begin() + static_cast<std::ptrdiff_t>((i + 1) * length));
    f.dispatch_virtual = flight_virtual.at(i);
    f.known_seconds = known_seconds(f.proposal.genome);
    groups_.at(static_cast<std::size_t>(flight_group[i])).flight = f;
    running_.insert(running_key(static_cast<int>(flight_group[i])));
    ++in_flight_;
  }
}

}  // namespace alphax::app
