#include "alphax/train/weight_cache.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <utility>

namespace alphax::train {
namespace {

std::vector<NamedTensor> copy_tensors(const std::vector<ParameterInfo>& infos,
                                      std::span<const float> buffer) {
  std::vector<NamedTensor> out;
  out.reserve(infos.size());
  for (const auto& info : infos) {
    const auto first = buffer.begin() + info.offset;
    const auto dims = info.shape.dims();
    out.push_back(NamedTensor{info.name, std::vector<std::int64_t>(dims.begin(), dims.end()),
                              std::vector<float>(first, first + info.shape.size())});
  }
  return out;
}

// Copies the tensors of `source` that match an entry of `infos` by name and shape into `buffer`.
void copy_matching(const std::vector<NamedTensor>& source, const std::vector<ParameterInfo>& infos,
                   std::span<float> buffer, std::int64_t& tensors, std::int64_t* scalars) {
  std::unordered_map<std::string_view, const NamedTensor*> by_name;
  for (const auto& t : source) by_name.emplace(t.name, &t);
  for (const auto& info : infos) {
    const auto it = by_name.find(info.name);
    if (it == by_name.end()) continue;
    const auto dims = info.shape.dims();
    if (!std::equal(dims.begin(), dims.end(), it->second->shape.begin(), it->second->shape.end())) continue;
    std::copy(it->second->values.begin(), it->second->values.end(), buffer.begin() + info.offset);
    ++tensors;
    if (scalars != nullptr) *scalars += info.shape.size();
  }
}

std::string canonical_op(const std::string& op) {
  return op == "identity" ? std::string("skip_connect") : op;
}

// Edge ops of a cell by (from, to), without "none" edges.
std::map<std::pair<std::int32_t, std::int32_t>, std::string> edge_ops(const CellSpec& cell) {
  std::map<std::pair<std::int32_t, std::int32_t>, std::string> ops;
  for (const auto& e : cell.edges) {
    if (e.op != "none") ops[{e.from, e.to}] = canonical_op(e.op);
  }
  return ops;
}

constexpr std::uint32_t kWeightsMagic = 0x41585754;  // "AXWT"
constexpr std::uint32_t kWeightsVersion = 1;

class ByteWriter {
 public:
  template <typename T>
  void put(const T& value) {
    const auto* p = reinterpret_cast<const std::byte*>(&value);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_string(const std::string& s) {
    put(static_cast<std::uint64_t>(s.size()));
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    bytes_.insert(bytes_.end(), p, p + s.size());
  }
  template <typename T>
  void put_vector(const std::vector<T>& v) {
    put(static_cast<std::uint64_t>(v.size()));
    const auto* p = reinterpret_cast<const std::byte*>(v.data());
    bytes_.insert(bytes_.end(), p, p + v.size() * sizeof(T));
  }
  std::vector<std::byte> take() { return std::move(bytes_); }

 private:
  std::vector<std::byte> bytes_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> bytes) : bytes_(bytes) {}
  template <typename T>
  T get() {
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  std::string get_string() {
    const auto n = count(1);
    const auto* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  template <typename T>
  std::vector<T> get_vector() {
    const auto n = count(sizeof(T));
    std::vector<T> v(n);
    if (n > 0) std::memcpy(v.data(), take(n * sizeof(T)), n * sizeof(T));
    return v;
  }
  [[nodiscard]] bool done() const noexcept { return position_ == bytes_.size(); }

 private:
  std::size_t count(std::size_t element_size) {
    const auto n = get<std::uint64_t>();
    if (n > (bytes_.size() - position_) / element_size) truncated();
    return static_cast<std::size_t>(n);
  }
  const std::byte* take(std::size_t n) {
    if (n > bytes_.size() - position_) truncated();
    const std::byte* p = bytes_.data() + position_;
    position_ += n;
    return p;
  }
  [[noreturn]] static void truncated() {
    throw std::runtime_error(
        "deserialize_weights: the weights message is truncated; run the same alphax binary on every rank");
  }

  std::span<const std::byte> bytes_;
  std::size_t position_ = 0;
};

void write_tensors(ByteWriter& out, const std::vector<NamedTensor>& tensors) {
  out.put(static_cast<std::uint64_t>(tensors.size()));
  for (const auto& t : tensors) {
    out.put_string(t.name);
    out.put_vector(t.shape);
    out.put_vector(t.values);
  }
}

std::vector<NamedTensor> read_tensors(ByteReader& in) {
  const auto n = in.get<std::uint64_t>();
  std::vector<NamedTensor> tensors;
  for (std::uint64_t i = 0; i < n; ++i) {
    NamedTensor t;
    t.name = in.get_string();
    t.shape = in.get_vector<std::int64_t>();
    t.values = in.get_vector<float>();
    std::int64_t size = 1;
    for (const auto d : t.shape) size *= d;
    if (size != static_cast<std::int64_t>(t.values.size())) {
      throw std::runtime_error("deserialize_weights: tensor '" + t.name + "' has " +
                               std::to_string(t.values.size()) +
                               " values for its shape; the message is corrupt");
    }
    tensors.push_back(std::move(t));
  }
  return tensors;
}

}  // namespace

NetworkWeights copy_weights(const Network& network) {
  const ParameterStore& store = network.parameters();
  return NetworkWeights{copy_tensors(store.parameters(), store.values()),
                        copy_tensors(store.state_tensors(), store.states())};
}

TransferReport load_matching_weights(const NetworkWeights& source, Network& network) {
  ParameterStore& store = network.parameters();
  TransferReport report;
  report.total_scalars = network.parameter_count();
  copy_matching(source.parameters, store.parameters(), store.values(), report.tensors, &report.scalars);
  copy_matching(source.states, store.state_tensors(), store.states(), report.tensors, nullptr);
  return report;
}

bool may_become_parent(const TransferConfig& config, bool trained_from_parent) {
  return config.parents == "any" || !trained_from_parent;
}

std::int64_t epochs_with_parent(const TrainConfig& config) {
  // The small tolerance keeps 0.5 · 4 = 2 from rounding up to 3 through floating-point noise.
  const double epochs =
      std::ceil(config.transfer.epochs_fraction * static_cast<double>(config.epochs) - 1e-9);
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(epochs));
}

std::int64_t cell_distance(const CellSpec& a, const CellSpec& b) {
  const auto ea = edge_ops(a);
  const auto eb = edge_ops(b);
  std::int64_t distance = 0;
  for (const auto& [edge, op] : ea) {
    const auto it = eb.find(edge);
    if (it == eb.end() || it->second != op) ++distance;
  }
  for (const auto& [edge, op] : eb) {
    if (ea.find(edge) == ea.end()) ++distance;
  }
  const std::size_t nodes = std::max(a.node_ops.size(), b.node_ops.size());
  for (std::size_t i = 0; i < nodes; ++i) {
    const std::string none;
    const std::string& oa = i < a.node_ops.size() ? a.node_ops[i] : none;
    const std::string& ob = i < b.node_ops.size() ? b.node_ops[i] : none;
    if (oa != ob) ++distance;
  }
  return distance;
}

std::vector<std::byte> serialize_weights(const NetworkWeights& weights) {
  ByteWriter out;
  out.put(kWeightsMagic);
  out.put(kWeightsVersion);
  write_tensors(out, weights.parameters);
  write_tensors(out, weights.states);
  return out.take();
}

NetworkWeights deserialize_weights(std::span<const std::byte> bytes) {
  ByteReader in(bytes);
  if (in.get<std::uint32_t>() != kWeightsMagic) {
    throw std::runtime_error("deserialize_weights: not a weights message (wrong magic number)");
  }
  const auto version = in.get<std::uint32_t>();
  if (version != kWeightsVersion) {
    throw std::runtime_error("deserialize_weights: weights format version " + std::to_string(version) +
                             ", expected " + std::to_string(kWeightsVersion) +
                             "; run the same alphax binary on every rank");
  }
  NetworkWeights weights;
  weights.parameters = read_tensors(in);
  weights.states = read_tensors(in);
  if (!in.done())
    throw std::runtime_error("deserialize_weights: trailing bytes after the weights; the message is corrupt");
  return weights;
}

WeightCache::WeightCache(std::int64_t capacity) : capacity_(capacity) {
  if (capacity < 1) {
    throw std::invalid_argument("WeightCache: the capacity (transfer.cache_size) must be >= 1, got " +
                                std::to_string(capacity));
  }
}

void WeightCache::insert(std::string key, CellSpec cell, std::shared_ptr<const NetworkWeights> weights) {
  std::int64_t pins = 0;
  const auto same =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
  if (same != entries_.end()) {
    pins = same->pins;
    entries_.erase(same);
  }
  entries_.push_back(Entry{std::move(key), std::move(cell), std::move(weights), pins});
  trim();
}

std::optional<WeightCache::Match> WeightCache::closest(const CellSpec& cell,
                                                       std::int64_t max_distance) const {
  std::optional<Match> best;
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {  // most recent first: it wins ties
    const std::int64_t d = cell_distance(cell, it->cell);
    if (max_distance > 0 && d > max_distance) continue;
    if (!best || d < best->distance) best = Match{it->key, d, it->weights};
  }
  return best;
}

void WeightCache::pin(const std::string& key) {
  const auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
  if (it == entries_.end()) throw std::out_of_range("WeightCache::pin: no cached network '" + key + "'");
  Entry entry = std::move(*it);
  entries_.erase(it);
  ++entry.pins;
  entries_.push_back(std::move(entry));
}

void WeightCache::unpin(const std::string& key) {
  const auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
  if (it == entries_.end()) return;
  if (it->pins > 0) --it->pins;
  trim();
}

void WeightCache::restore(std::vector<Entry> entries) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (entries[i].key == entries[j].key) {
        throw std::invalid_argument("WeightCache::restore: the network '" + entries[i].key +
                                    "' appears twice");
      }
    }
  }
  entries_ = std::move(entries);
}

void WeightCache::trim() {
  // The least recently used unpinned entry goes first; the newest entry always stays.
  while (static_cast<std::int64_t>(entries_.size()) > capacity_) {
    const auto last = entries_.end() - 1;
    const auto oldest = std::find_if(entries_.begin(), last, [](const Entry& e) { return e.pins == 0; });
    if (oldest == last) return;
    entries_.erase(oldest);
  }
}

}  // namespace alphax::train
