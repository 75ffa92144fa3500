#include "alphax/train_evaluator.hpp"

#include <array>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <string_view>

#include "alphax/tensor/threading.hpp"

namespace alphax::app {
namespace {

comm::CommunicatorOptions communicator_options(const RunConfig& config) {
  comm::CommunicatorOptions options;
  options.block_bytes = static_cast<std::size_t>(std::max<std::int64_t>(0, config.comm_block_bytes));
  return options;
}

std::string join_lines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + '\n';
  return out;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// Named tensors as three archive entries: names (one per line), shapes (rank, dims...), values.
void put_tensors(search::StateArchive& a, const std::string& prefix,
                 const std::vector<train::NamedTensor>& tensors) {
  std::vector<std::string> names;
  std::vector<std::int64_t> shapes;
  std::vector<double> values;
  for (const auto& t : tensors) {
    names.push_back(t.name);
    shapes.push_back(static_cast<std::int64_t>(t.shape.size()));
    shapes.insert(shapes.end(), t.shape.begin(), t.shape.end());
    values.insert(values.end(), t.values.begin(), t.values.end());  // float -> double is exact
  }
  a.put(prefix + "_names", join_lines(names));
  a.put(prefix + "_shapes", shapes);
  a.put(prefix + "_values", values);
}

std::vector<train::NamedTensor> get_tensors(const search::StateArchive& a, const std::string& prefix) {
  const auto names = split_lines(a.text(prefix + "_names"));
  const auto& shapes = a.ints(prefix + "_shapes");
  const auto& values = a.doubles(prefix + "_values");
  std::vector<train::NamedTensor> tensors;
  std::size_t s = 0, v = 0;
  for (const auto& name : names) {
    if (s >= shapes.size())
      throw std::runtime_error("weight cache: the shapes of '" + prefix + "' are truncated");
    const auto rank = static_cast<std::size_t>(shapes[s++]);
    if (s + rank > shapes.size())
      throw std::runtime_error("weight cache: the shapes of '" + prefix + "' are truncated");
    train::NamedTensor t{name,
                         std::vector<std::int64_t>(shapes.begin() + static_cast<std::ptrdiff_t>(s),
                                                   shapes.begin() + static_cast<std::ptrdiff_t>(s + rank)),
                         {}};
    s += rank;
    std::size_t size = 1;
    for (const auto d : t.shape) size *= static_cast<std::size_t>(d);
    if (v + size > values.size())
      throw std::runtime_error("weight cache: the values of '" + prefix + "' are truncated");
    t.values.assign(values.begin() + static_cast<std::ptrdiff_t>(v),
                    values.begin() + static_cast<std::ptrdiff_t>(v + size));
    v += size;
    tensors.push_back(std::move(t));
  }
  if (s != shapes.size() || v != values.size())
    throw std::runtime_error("weight cache: '" + prefix +
                             "' holds more values than its names and shapes describe");
  return tensors;
}

}  // namespace

train::CellSpec to_cell_spec(const search::CellGraph& graph) {
  train::CellSpec cell;
  cell.num_nodes = graph.num_nodes;
  cell.node_ops = graph.node_ops;
  for (const auto& e : graph.edges) cell.edges.push_back({e.from, e.to, e.op});
  return cell;
}

TrainEvaluator::TrainEvaluator(train::TrainConfig config, MPI_Comm group, comm::CommunicatorOptions options)
    : config_(std::move(config)), group_(group, options) {}

const train::PreparedData& TrainEvaluator::prepared() {
  if (!data_) {
    if (config_.threads > 0) tensor::set_num_threads(config_.threads);
    data_ = train::prepare_data(config_.data, config_.seed);
  }
  return *data_;
}

search::EvalResult TrainEvaluator::evaluate(const search::SearchSpace& space, const search::Genome& genome) {
  const train::CellSpec cell = to_cell_spec(space.to_cell(genome));
  train::validate_cell(cell);
  const auto& data = prepared();
  train::TrainConfig config = config_;
  train::Network network(train::make_network_spec(config.network, cell, data.train));
  network.initialize(config.seed);
  // Only the leader holds the parent; the group agrees on whether there is one (it shortens
  // training), and the Trainer broadcasts the leader's initial weights to every replica.
  std::array<double, 1> from_parent{group_.rank() == 0 && parent_ ? 1.0 : 0.0};
  group_.broadcast(std::span<double>(from_parent), 0);
  if (from_parent[0] != 0.0) {
    if (parent_) (void)train::load_matching_weights(*parent_, network);
    config.epochs = train::epochs_with_parent(config_);
  }
  parent_.reset();
  trained_.reset();

  train::Trainer trainer(config, network, data.train, data.validation, data.stats, &group_);
  const train::TrainResult trained = trainer.fit();
  search::EvalResult result;
  result.params = trained.parameters;
  result.flops = static_cast<double>(trained.flops);
  result.objective = trained.validation_accuracy;
  result.train_seconds = trained.seconds;
  if (trained.status == train::TrainStatus::kDiverged || !std::isfinite(trained.validation_accuracy)) {
    result.status = search::EvalStatus::diverged;
    result.message = "training loss became NaN/inf";
    return result;
  }
  result.report = data.test.count > 0 ? trainer.evaluate(data.test).accuracy : std::nan("");
  if (transfer_enabled() && group_.rank() == 0) {
    trained_ = std::make_shared<const train::NetworkWeights>(train::copy_weights(network));
  }
  return result;
}

std::unique_ptr<search::Evaluator> make_train_evaluator(const RunConfig& config,
                                                        const search::SearchSpace& /*space*/,
                                                        MPI_Comm group) {
  static constexpr std::array<std::string_view, 1> kIgnored{"name"};
  train::TrainConfig train_config = train::parse_train_config(config.evaluator, "evaluator", kIgnored);
  if (!train_config.arch.empty())
    throw ConfigError("evaluator.arch: the search proposes the architectures; remove this key");
  train::validate_train_config(train_config);
  if (config.group_size > 1 && train_config.batch < config.group_size)
    throw ConfigError("evaluator.batch: a global batch of " + std::to_string(train_config.batch) +
                      " images cannot be shared by trainer groups of " + std::to_string(config.group_size) +
                      " ranks; raise evaluator.batch or lower trainers.group_size");
  if (!std::filesystem::is_directory(train_config.data.dir))
    throw ConfigError(
        "evaluator.data.dir: '" + train_config.data.dir +
        "' is not a directory; point it at the data set (scripts/setup.sh installs Fashion-MNIST)");
  return std::make_unique<TrainEvaluator>(std::move(train_config), group, communicator_options(config));
}

WeightTransfer::WeightTransfer(const train::TransferConfig& config, const search::SearchSpace& space)
    : space_(&space), config_(config) {
  if (config.cache_size > 0) cache_.emplace(config.cache_size);
}

void WeightTransfer::on_dispatch(std::int64_t eval_id, const search::Genome& genome) {
  if (!cache_ || flights_.count(eval_id) > 0) return;
  Flight flight{genome, {}};
  if (const auto match = cache_->closest(to_cell_spec(space_->to_cell(genome)), config_.max_distance)) {
    cache_->pin(match->key);
    flight.parent = match->key;
  }
  flights_.emplace(eval_id, std::move(flight));
}

std::shared_ptr<const train::NetworkWeights> WeightTransfer::parent_of(std::int64_t eval_id) const {
  const auto it = flights_.find(eval_id);
  if (!cache_ || it == flights_.end() || it->second.parent.empty()) return nullptr;
  for (const auto& entry : cache_->entries())
    if (entry.key == it->second.parent) return entry.weights;
  return nullptr;
}

void WeightTransfer::on_arrival(std::int64_t eval_id, std::shared_ptr<const train::NetworkWeights> weights) {
  if (cache_) arrived_[eval_id] = std::move(weights);
}

void WeightTransfer::on_consume(std::int64_t eval_id, const search::EvalResult& result) {
  if (!cache_) return;
  const auto flight = flights_.find(eval_id);
  const auto weights = arrived_.find(eval_id);
  if (flight != flights_.end()) {
    const bool from_parent = !flight->second.parent.empty();
    if (result.status == search::EvalStatus::ok && weights != arrived_.end() && weights->second &&
        train::may_become_parent(config_, from_parent)) {
      const auto& genome = flight->second.genome;
      cache_->insert(space_->format(genome), to_cell_spec(space_->to_cell(genome)), weights->second);
    }
    if (!flight->second.parent.empty()) cache_->unpin(flight->second.parent);
    flights_.erase(flight);
  }
  if (weights != arrived_.end()) arrived_.erase(weights);
}

void WeightTransfer::save(search::StateArchive& archive) const {
  if (!cache_) return;
  archive.put_scalar("capacity", cache_->capacity());
  std::vector<std::string> keys;
  std::vector<std::int64_t> pins;
  for (std::size_t i = 0; i < cache_->entries().size(); ++i) {
    const auto& entry = cache_->entries()[i];
    keys.push_back(entry.key);
    pins.push_back(entry.pins);
    auto& child = archive.child("entry" + std::to_string(i));
    put_tensors(child, "parameters", entry.weights->parameters);
    put_tensors(child, "states", entry.weights->states);
  }
  archive.put("keys", join_lines(keys));
  archive.put("pins", pins);
  std::vector<std::int64_t> ids;
  std::vector<std::string> genomes, parents;
  for (const auto& [id, flight] : flights_) {
    ids.push_back(id);
    genomes.push_back(space_->format(flight.genome));
    parents.push_back(flight.parent.empty() ? "-" : flight.parent);
  }
  archive.put("in_flight_eval_id", ids);
  archive.put("in_flight_arch", join_lines(genomes));
  archive.put("in_flight_parent", join_lines(parents));
}

void WeightTransfer::load(const search::StateArchive& archive) {
  if (!cache_) return;
  if (archive.scalar_int("capacity") != cache_->capacity())
    throw std::runtime_error("restart: the checkpoint's weight cache holds " +
                             std::to_string(archive.scalar_int("capacity")) +
                             " networks, evaluator.transfer.cache_size is " +
                             std::to_string(cache_->capacity()) + "; restart with the same cache_size");
  const auto keys = split_lines(archive.text("keys"));
  const auto& pins = archive.ints("pins");
  if (pins.size() != keys.size())
    throw std::runtime_error("restart: the checkpoint's weight cache is inconsistent (keys vs pins)");
  std::vector<train::WeightCache::Entry> entries;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& child = archive.child("entry" + std::to_string(i));
    auto weights = std::make_shared<train::NetworkWeights>();
    weights->parameters = get_tensors(child, "parameters");
    weights->states = get_tensors(child, "states");
    entries.push_back(
        {keys[i], to_cell_spec(space_->to_cell(space_->parse(keys[i]))), std::move(weights), pins[i]});
  }
  cache_->restore(std::move(entries));
  flights_.clear();
  arrived_.clear();
  const auto& ids = archive.ints("in_flight_eval_id");
  const auto archs = split_lines(archive.text("in_flight_arch"));
  const auto parents = split_lines(archive.text("in_flight_parent"));
  if (archs.size() != ids.size() || parents.size() != ids.size())
    throw std::runtime_error("restart: the checkpoint's weight-transfer flights are inconsistent");
  for (std::size_t i = 0; i < ids.size(); ++i)
    flights_.emplace(ids[i], Flight{space_->parse(archs[i]), parents[i] == "-" ? std::string() : parents[i]});
}

}  // namespace alphax::app
