#include "alphax/search/spaces.hpp"

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <span>
#include <string>
#include <unordered_map>

namespace alphax::search {

std::uint64_t mix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

namespace {

std::uint64_t combine(std::uint64_t seed, std::uint64_t value) { return mix64(seed ^ mix64(value)); }

std::uint64_t combine_all(std::uint64_t seed, std::span<const std::uint64_t> values) {
  for (auto v : values) seed = combine(seed, v);
  return combine(seed, values.size());
}

/// Vertices reachable from `source` following edges forward (or backward when `reverse`).
std::vector<bool> reachable(const std::vector<std::vector<bool>>& adj, std::size_t source, bool reverse) {
  std::vector<bool> seen(adj.size(), false);
  std::vector<std::size_t> stack{source};
  seen[source] = true;
  while (!stack.empty()) {
    const auto v = stack.back();
    stack.pop_back();
    for (std::size_t u = 0; u < adj.size(); ++u) {
      const bool edge = reverse ? adj[u][v] : adj[v][u];
      if (edge && !seen[u]) {
        seen[u] = true;
        stack.push_back(u);
      }
    }
  }
  return seen;
}

/// Keeps the vertices on some source->sink path; returns the reduced graph and labels, or
/// nothing when the sink cannot be reached.
bool prune(std::vector<std::vector<bool>>& adj, std::vector<std::int32_t>& labels, std::size_t sink) {
  const auto from_input = reachable(adj, 0, false);
  if (!from_input[sink]) return false;
  const auto to_output = reachable(adj, sink, true);
  std::vector<std::size_t> keep;
  for (std::size_t v = 0; v < adj.size(); ++v)
    if (from_input[v] && to_output[v]) keep.push_back(v);
  std::vector<std::vector<bool>> reduced(keep.size(), std::vector<bool>(keep.size(), false));
  std::vector<std::int32_t> reduced_labels(keep.size());
  for (std::size_t a = 0; a < keep.size(); ++a) {
    reduced_labels[a] = labels[keep[a]];
    for (std::size_t b = 0; b < keep.size(); ++b) reduced[a][b] = adj[keep[a]][keep[b]];
  }
  adj = std::move(reduced);
  labels = std::move(reduced_labels);
  return true;
}

std::uint64_t genome_hash(const Genome& genome) {
  std::uint64_t h = 0x5eed;
  for (auto v : genome) h = combine(h, static_cast<std::uint64_t>(static_cast<std::uint32_t>(v)));
  return h;
}

std::int32_t first_undecided(const Genome& partial) {
  for (std::size_t i = 0; i < partial.size(); ++i)
    if (partial[i] == kUndecided) return static_cast<std::int32_t>(i);
  return -1;
}

void check_length(const Genome& genome, std::size_t length, const char* where) {
  if (genome.size() != length)
    throw std::invalid_argument(std::string(where) + ": genome has " + std::to_string(genome.size()) +
                                " positions, the space has " + std::to_string(length));
}

Genome apply_action(const Genome& partial, const Action& action, const char* where) {
  if (action.position < 0 || static_cast<std::size_t>(action.position) >= partial.size() ||
      partial[static_cast<std::size_t>(action.position)] != kUndecided)
    throw std::invalid_argument(std::string(where) + ": action on position " + std::to_string(action.position) +
                                " which is out of range or already decided");
  Genome next = partial;
  next[static_cast<std::size_t>(action.position)] = action.value;
  return next;
}

std::int32_t op_index(const std::vector<std::string>& ops, std::string_view token, const char* where,
                      std::string_view text) {
  for (std::size_t i = 0; i < ops.size(); ++i)
    if (ops[i] == token) return static_cast<std::int32_t>(i);
  std::string valid;
  for (const auto& op : ops) valid += (valid.empty() ? "" : ", ") + op;
  throw std::invalid_argument(std::string(where) + ": unknown op '" + std::string(token) + "' in '" +
                              std::string(text) + "' (valid ops: " + valid + ")");
}

}  // namespace

std::uint64_t graph_hash(const std::vector<std::vector<bool>>& adjacency, const std::vector<std::int32_t>& labels) {
  const std::size_t n = labels.size();
  std::vector<std::uint64_t> h(n);
  for (std::size_t v = 0; v < n; ++v) {
    std::uint64_t in = 0, out = 0;
    for (std::size_t u = 0; u < n; ++u) {
      in += adjacency[u][v] ? 1 : 0;
      out += adjacency[v][u] ? 1 : 0;
    }
    h[v] = combine(combine(combine(0x101, in), out), static_cast<std::uint64_t>(static_cast<std::int64_t>(labels[v])));
  }
  // Buffers reused across vertices and iterations: this runs for every new nb101 candidate.
  std::vector<std::uint64_t> next(n), in, out;
  in.reserve(n);
  out.reserve(n);
  for (std::size_t iteration = 0; iteration < n; ++iteration) {
    for (std::size_t v = 0; v < n; ++v) {
      in.clear();
      out.clear();
      for (std::size_t u = 0; u < n; ++u) {
        if (adjacency[u][v]) in.push_back(h[u]);
        if (adjacency[v][u]) out.push_back(h[u]);
      }
      std::sort(in.begin(), in.end());
      std::sort(out.begin(), out.end());
      next[v] = combine(combine_all(combine_all(0x202, in), out), h[v]);
    }
    std::swap(h, next);
  }
  std::sort(h.begin(), h.end());
  return combine_all(0x303, h);
}

// ---------------------------------------------------------------- NAS-Bench-201

const std::vector<std::string>& Nb201Space::ops() {
  static const std::vector<std::string> kOps{"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"};
  return kOps;
}

Genome Nb201Space::mutate(const Genome& genome, Rng& rng) const {
  check_length(genome, kEdges, "Nb201Space::mutate");
  Genome g = genome;
  const auto position = std::uniform_int_distribution<std::size_t>(0, kEdges - 1)(rng);
  const auto shift = std::uniform_int_distribution<std::int32_t>(1, 4)(rng);
  g[position] = (g[position] + shift) % 5;
  return g;
}

namespace {
constexpr std::int32_t kNb201Ops = 5;
constexpr std::int32_t kNb201Cells = 5 * 5 * 5 * 5 * 5 * 5;

std::int32_t nb201_code(const Genome& genome) {
  std::int32_t code = 0;
  for (const auto op : genome) code = code * kNb201Ops + op;
  return code;
}

Genome nb201_cell(std::int32_t code) {
  Genome genome(Nb201Space::kEdges);
  for (std::size_t e = Nb201Space::kEdges; e-- > 0; code /= kNb201Ops) genome[e] = code % kNb201Ops;
  return genome;
}

/// For every cell (its ops as a base-5 number), the smallest cell of its canonical class. A fixed
/// table of 15,625 entries, computed once on first use: it depends on nothing but the space.
const std::vector<std::int32_t>& nb201_representatives() {
  static const std::vector<std::int32_t> table = [] {
    std::unordered_map<std::string, std::int32_t> first;
    std::vector<std::int32_t> representative(kNb201Cells);
    for (std::int32_t code = 0; code < kNb201Cells; ++code)
      representative[static_cast<std::size_t>(code)] =
          first.try_emplace(Nb201Space::canonical_string(nb201_cell(code)), code).first->second;
    return representative;
  }();
  return table;
}

/// The cells of each canonical class, classes in the order of their smallest cell.
const std::vector<std::vector<std::int32_t>>& nb201_classes() {
  static const std::vector<std::vector<std::int32_t>> table = [] {
    const auto& representative = nb201_representatives();
    std::vector<std::vector<std::int32_t>> classes;
    std::vector<std::size_t> class_of(kNb201Cells);  // filled for representatives, which come first
    for (std::int32_t code = 0; code < kNb201Cells; ++code) {
      const auto rep = static_cast<std::size_t>(representative[static_cast<std::size_t>(code)]);
      if (rep == static_cast<std::size_t>(code)) {
        class_of[rep] = classes.size();
        classes.emplace_back();
      }
      classes[class_of[rep]].push_back(code);
    }
    return classes;
  }();
  return table;
}
}  // namespace

Genome Nb201Space::sample(Rng& rng) const {
  if (sampling_ == Sampling::cells) {
    std::uniform_int_distribution<std::int32_t> op(0, kNb201Ops - 1);
    Genome g(kEdges);
    for (auto& v : g) v = op(rng);
    return g;
  }
  // The big classes are the degenerate cells (most edges "none" or cut off from the output): drawn
  // by cell, random search and evolution's first population spend samples on them.
  const auto& classes = nb201_classes();
  const auto& members = classes[std::uniform_int_distribution<std::size_t>(0, classes.size() - 1)(rng)];
  return nb201_cell(members[std::uniform_int_distribution<std::size_t>(0, members.size() - 1)(rng)]);
}

std::vector<float> Nb201Space::encode(const Genome& cell) const {
  check_length(cell, kEdges, "Nb201Space::encode");
  // A complete cell is encoded as the representative of its class, so that cells which compute
  // the same function (e.g. the two intermediate nodes swapped) are one point for the predictor;
  // the one-hot part below would otherwise set them apart. Measured in docs/search.md, "Session 17".
  const Genome genome =
      is_valid(cell) ? nb201_cell(nb201_representatives()[static_cast<std::size_t>(nb201_code(cell))]) : cell;
  std::vector<float> x(encoding_size(), 0.0f);
  // One-hot op per edge, an edge that carries nothing to the output encoded as "none": cells that
  // differ only in such edges compute the same function, so the predictor sees them as one.
  // Undecided edges (partial genomes) count as possibly alive.
  const auto from = [](std::size_t e) { return static_cast<std::size_t>(kEdgeNodes[e][0]); };
  const auto to = [](std::size_t e) { return static_cast<std::size_t>(kEdgeNodes[e][1]); };
  std::array<bool, 4> fed{true, false, false, false};    // node receives a path from the input
  std::array<bool, 4> feeds{false, false, false, true};  // node has a path to the output
  for (std::size_t e = 0; e < kEdges; ++e)               // edges are ordered by target node
    if (genome[e] != 0 && fed[from(e)]) fed[to(e)] = true;
  for (std::size_t e = kEdges; e-- > 0;)
    if (genome[e] != 0 && feeds[to(e)]) feeds[from(e)] = true;
  for (std::size_t e = 0; e < kEdges; ++e) {
    if (genome[e] < 0) continue;
    const bool alive = fed[from(e)] && feeds[to(e)];
    x[e * 5 + (alive ? static_cast<std::size_t>(genome[e]) : 0)] = 1.0f;
  }
  // Path counts: every input->output path whose edges are all decided and none is "none",
  // identified by its sequence of non-skip ops (conv1x1, conv3x3, avg_pool: base 3, length 0..3),
  // so functionally equal cells share these features. Offsets: length 0 -> 0, 1 -> 1, 2 -> 4, 3 -> 13.
  static constexpr std::array<std::array<std::int32_t, 3>, 4> kPaths{{{3, -1, -1}, {0, 4, -1}, {1, 5, -1}, {0, 2, 5}}};
  for (const auto& path : kPaths) {
    std::size_t code = 0, length = 0;
    bool alive = true;
    for (const auto e : path) {
      if (e < 0) break;
      const auto op = genome[static_cast<std::size_t>(e)];
      if (op <= 0) {  // undecided or none
        alive = false;
        break;
      }
      if (op == 1) continue;  // skip_connect
      code = code * 3 + static_cast<std::size_t>(op - 2);
      ++length;
    }
    if (!alive) continue;
    static constexpr std::array<std::size_t, 4> kOffset{0, 1, 4, 13};
    x[kEdges * 5 + kOffset[length] + code] += 1.0f;
  }
  return x;
}

std::string Nb201Space::canonical_string(const Genome& genome) {
  // NAS-Bench-201's Structure.to_unique_str(consider_zero=True): every node is the sorted sum of
  // its input terms; "none" (or a zero input) is the term '#', skip_connect passes its input's
  // expression through, any other op wraps it as "(expr)@op". Edges that cannot reach the output
  // do not appear in the output's expression.
  std::array<std::string, 4> node{"0", "", "", ""};
  for (std::size_t to = 1; to < 4; ++to) {
    std::vector<std::string> terms;
    for (std::size_t e = 0; e < kEdges; ++e) {
      if (static_cast<std::size_t>(kEdgeNodes[e][1]) != to) continue;
      const auto& in = node[static_cast<std::size_t>(kEdgeNodes[e][0])];
      const auto op = genome[e];
      if (op == 0 || in == "#")
        terms.emplace_back("#");
      else if (op == 1)
        terms.push_back(in);
      else {
        std::string term(1, '(');  // built by append: GCC 12 warns falsely on "(" + in
        term.append(in).append(")@").append(ops()[static_cast<std::size_t>(op)]);
        terms.push_back(std::move(term));
      }
    }
    std::sort(terms.begin(), terms.end());
    for (std::size_t t = 0; t < terms.size(); ++t) {
      if (t) node[to] += '+';
      node[to] += terms[t];
    }
  }
  return node[3];
}

std::uint64_t Nb201Space::canonical_hash(const Genome& genome) const {
  if (!is_valid(genome)) throw std::invalid_argument("Nb201Space::canonical_hash: invalid or partial genome");
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then mixed
  for (const unsigned char c : canonical_string(genome)) h = (h ^ c) * 0x100000001b3ULL;
  return mix64(h);
}

bool Nb201Space::is_valid(const Genome& genome) const {
  return genome.size() == kEdges &&
         std::all_of(genome.begin(), genome.end(), [](std::int32_t v) { return v >= 0 && v < 5; });
}

std::string Nb201Space::format(const Genome& genome) const {
  if (!is_valid(genome)) throw std::invalid_argument("Nb201Space::format: invalid or partial genome");
  std::string text = "|";
  for (std::size_t e = 0; e < kEdges; ++e) {
    text += ops()[static_cast<std::size_t>(genome[e])] + "~" + std::to_string(kEdgeNodes[e][0]) + "|";
    if (e == 0 || e == 2) text += "+|";
  }
  return text;
}

Genome Nb201Space::parse(std::string_view text) const {
  const char* where = "Nb201Space::parse";
  const std::string expected =
      " (expected '|op~0|+|op~0|op~1|+|op~0|op~1|op~2|', e.g. "
      "'|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|')";
  std::vector<std::string_view> groups;
  std::size_t start = 0;
  while (true) {
    const auto plus = text.find('+', start);
    groups.push_back(text.substr(start, plus == std::string_view::npos ? std::string_view::npos : plus - start));
    if (plus == std::string_view::npos) break;
    start = plus + 1;
  }
  if (groups.size() != 3)
    throw std::invalid_argument(std::string(where) + ": '" + std::string(text) + "' has " +
                                std::to_string(groups.size()) + " node groups separated by '+', need 3" + expected);
  Genome g;
  for (std::size_t node = 0; node < 3; ++node) {
    const auto group = groups[node];
    if (group.size() < 2 || group.front() != '|' || group.back() != '|')
      throw std::invalid_argument(std::string(where) + ": group '" + std::string(group) +
                                  "' must start and end with '|'" + expected);
    std::vector<std::string_view> tokens;
    std::size_t p = 1;
    while (p < group.size()) {
      const auto bar = group.find('|', p);
      tokens.push_back(group.substr(p, bar - p));
      p = bar + 1;
    }
    if (tokens.size() != node + 1)
      throw std::invalid_argument(std::string(where) + ": group '" + std::string(group) + "' of node " +
                                  std::to_string(node + 1) + " needs " + std::to_string(node + 1) + " edges" +
                                  expected);
    for (std::size_t from = 0; from <= node; ++from) {
      const auto token = tokens[from];
      const auto tilde = token.find('~');
      if (tilde == std::string_view::npos || token.substr(tilde + 1) != std::to_string(from))
        throw std::invalid_argument(std::string(where) + ": token '" + std::string(token) + "' must be 'op~" +
                                    std::to_string(from) + "'" + expected);
      g.push_back(op_index(ops(), token.substr(0, tilde), where, text));
    }
  }
  return g;
}

CellGraph Nb201Space::to_cell(const Genome& genome) const {
  if (!is_valid(genome)) throw std::invalid_argument("Nb201Space::to_cell: invalid or partial genome");
  CellGraph cell;
  cell.num_nodes = 4;
  cell.node_ops.assign(4, "");
  for (std::size_t e = 0; e < kEdges; ++e)
    cell.edges.push_back({kEdgeNodes[e][0], kEdgeNodes[e][1], ops()[static_cast<std::size_t>(genome[e])]});
  return cell;
}

std::vector<Action> Nb201Space::actions(const Genome& partial) const {
  const auto p = first_undecided(partial);
  if (p < 0) return {};
  std::vector<Action> result;
  for (std::int32_t v = 0; v < 5; ++v) result.push_back({p, v});
  return result;
}

Genome Nb201Space::apply(const Genome& partial, const Action& action) const {
  if (action.value < 0 || action.value >= 5) throw std::invalid_argument("Nb201Space::apply: op index out of range");
  return apply_action(partial, action, "Nb201Space::apply");
}

bool Nb201Space::is_terminal(const Genome& partial) const { return first_undecided(partial) < 0; }

// ---------------------------------------------------------------- NAS-Bench-101

const std::vector<std::string>& Nb101Space::ops() {
  static const std::vector<std::string> kOps{"conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"};
  return kOps;
}

std::array<std::int32_t, 2> Nb101Space::edge_of(std::size_t position) {
  // A table: every validity check and hash of a cell maps all 21 positions.
  static constexpr auto kEdgeTable = [] {
    std::array<std::array<std::int32_t, 2>, kAdjacency> table{};
    std::size_t k = 0;
    for (std::int32_t i = 0; i < kNodes; ++i)
      for (std::int32_t j = i + 1; j < kNodes; ++j, ++k) table[k] = {i, j};
    return table;
  }();
  if (position >= kAdjacency)
    throw std::out_of_range("Nb101Space::edge_of: position " + std::to_string(position) + " >= 21");
  return kEdgeTable[position];
}

namespace {
std::vector<std::vector<bool>> nb101_adjacency(const Genome& g) {
  std::vector<std::vector<bool>> adj(7, std::vector<bool>(7, false));
  for (std::size_t p = 0; p < Nb101Space::kAdjacency; ++p) {
    const auto [i, j] = Nb101Space::edge_of(p);
    adj[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] = g[p] == 1;
  }
  return adj;
}
std::vector<std::int32_t> nb101_labels(const Genome& g) {
  std::vector<std::int32_t> labels{-1};
  for (std::size_t k = 0; k < Nb101Space::kInterior; ++k) labels.push_back(g[Nb101Space::kAdjacency + k]);
  labels.push_back(-2);
  return labels;
}
/// Whether the output is reachable from the input. Edges run from lower to higher nodes and the
/// positions list them by source node, so one pass in position order settles each node before its
/// out-edges are read; no allocation (is_valid runs for every candidate a proposal scores).
bool nb101_output_reachable(const Genome& g) {
  std::uint32_t reached = 1u;  // the input node
  for (std::size_t p = 0; p < Nb101Space::kAdjacency; ++p) {
    const auto [from, to] = Nb101Space::edge_of(p);
    if (g[p] == 1 && ((reached >> from) & 1u)) reached |= 1u << to;
  }
  return ((reached >> (Nb101Space::kNodes - 1)) & 1u) != 0;
}
std::int32_t nb101_edges(const Genome& g) {
  std::int32_t n = 0;
  for (std::size_t p = 0; p < Nb101Space::kAdjacency; ++p) n += g[p] == 1 ? 1 : 0;
  return n;
}
}  // namespace

bool Nb101Space::is_valid(const Genome& genome) const {
  if (genome.size() != genome_length()) return false;
  for (std::size_t p = 0; p < genome.size(); ++p) {
    const std::int32_t limit = p < kAdjacency ? 2 : 3;
    if (genome[p] < 0 || genome[p] >= limit) return false;
  }
  if (nb101_edges(genome) > kMaxEdges) return false;
  return nb101_output_reachable(genome);
}

Genome Nb101Space::sample(Rng& rng) const {
  std::bernoulli_distribution bit(0.5);
  std::uniform_int_distribution<std::int32_t> op(0, 2);
  Genome g(genome_length());
  do {
    for (std::size_t p = 0; p < kAdjacency; ++p) g[p] = bit(rng) ? 1 : 0;
    for (std::size_t k = 0; k < kInterior; ++k) g[kAdjacency + k] = op(rng);
  } while (!is_valid(g));
  return g;
}

Genome Nb101Space::mutate(const Genome& genome, Rng& rng) const {
  if (!is_valid(genome)) throw std::invalid_argument("Nb101Space::mutate: invalid genome");
  std::uniform_int_distribution<std::size_t> position(0, genome_length() - 1);
  while (true) {
    Genome g = genome;
    const auto p = position(rng);
    if (p < kAdjacency)
      g[p] = 1 - g[p];
    else
      g[p] = (g[p] + std::uniform_int_distribution<std::int32_t>(1, 2)(rng)) % 3;
    if (is_valid(g)) return g;  // an op change is always valid, so this ends
  }
}

std::vector<float> Nb101Space::encode(const Genome& genome) const {
  check_length(genome, genome_length(), "Nb101Space::encode");
  std::vector<float> x(encoding_size(), 0.0f);
  // A node off every input->output path computes nothing the output sees: a complete cell is
  // encoded without such nodes (their edges and op), as the canonical hash prunes them, so cells
  // that differ only there look alike to the predictor. Partial cells may still connect them.
  std::vector<bool> on_path(kNodes, true);
  if (std::none_of(genome.begin(), genome.end(), [](std::int32_t v) { return v == kUndecided; })) {
    const auto adj = nb101_adjacency(genome);
    const auto from_input = reachable(adj, 0, false);
    const auto to_output = reachable(adj, kNodes - 1, true);
    for (std::size_t v = 0; v < kNodes; ++v) on_path[v] = from_input[v] && to_output[v];
  }
  for (std::size_t p = 0; p < kAdjacency; ++p) {
    const auto [from, to] = edge_of(p);
    const bool live = on_path[static_cast<std::size_t>(from)] && on_path[static_cast<std::size_t>(to)];
    x[p] = genome[p] == 1 && live ? 1.0f : 0.0f;
  }
  for (std::size_t k = 0; k < kInterior; ++k) {
    const auto v = genome[kAdjacency + k];
    if (v >= 0 && on_path[k + 1]) x[kAdjacency + 3 * k + static_cast<std::size_t>(v)] = 1.0f;
  }
  return x;
}

std::uint64_t Nb101Space::canonical_hash(const Genome& genome) const {
  if (!is_valid(genome)) throw std::invalid_argument("Nb101Space::canonical_hash: invalid or partial genome");
  auto adj = nb101_adjacency(genome);
  auto labels = nb101_labels(genome);
  prune(adj, labels, kNodes - 1);
  return graph_hash(adj, labels);
}

std::string Nb101Space::format(const Genome& genome) const {
  if (!is_valid(genome)) throw std::invalid_argument("Nb101Space::format: invalid or partial genome");
  std::string text;
  for (std::size_t p = 0; p < kAdjacency; ++p) text += genome[p] == 1 ? '1' : '0';
  text += '|';
  for (std::size_t k = 0; k < kInterior; ++k)
    text += (k ? "," : "") + ops()[static_cast<std::size_t>(genome[kAdjacency + k])];
  return text;
}

Genome Nb101Space::parse(std::string_view text) const {
  const char* where = "Nb101Space::parse";
  const std::string expected =
      " (expected '<21 adjacency bits>|op,op,op,op,op' with ops conv3x3-bn-relu, conv1x1-bn-relu, maxpool3x3)";
  const auto bar = text.find('|');
  if (bar != kAdjacency)
    throw std::invalid_argument(std::string(where) + ": '" + std::string(text) +
                                "' does not start with 21 adjacency bits followed by '|'" + expected);
  Genome g;
  for (std::size_t p = 0; p < kAdjacency; ++p) {
    if (text[p] != '0' && text[p] != '1')
      throw std::invalid_argument(std::string(where) + ": adjacency character '" + std::string(1, text[p]) +
                                  "' at " + std::to_string(p) + " is not 0 or 1" + expected);
    g.push_back(text[p] - '0');
  }
  auto rest = text.substr(bar + 1);
  for (std::size_t k = 0; k < kInterior; ++k) {
    const auto comma = rest.find(',');
    if ((comma == std::string_view::npos) != (k + 1 == kInterior))
      throw std::invalid_argument(std::string(where) + ": '" + std::string(text) + "' needs exactly 5 ops" + expected);
    g.push_back(op_index(ops(), rest.substr(0, comma), where, text));
    if (comma != std::string_view::npos) rest = rest.substr(comma + 1);
  }
  if (!is_valid(g))
    throw std::invalid_argument(std::string(where) + ": '" + std::string(text) +
                                "' has more than 9 edges or no input->output path");
  return g;
}

CellGraph Nb101Space::to_cell(const Genome& genome) const {
  if (!is_valid(genome)) throw std::invalid_argument("Nb101Space::to_cell: invalid or partial genome");
  auto adj = nb101_adjacency(genome);
  auto labels = nb101_labels(genome);
  prune(adj, labels, kNodes - 1);
  CellGraph cell;
  cell.num_nodes = static_cast<std::int32_t>(labels.size());
  for (auto label : labels) cell.node_ops.push_back(label >= 0 ? ops()[static_cast<std::size_t>(label)] : "");
  for (std::size_t i = 0; i < adj.size(); ++i)
    for (std::size_t j = 0; j < adj.size(); ++j)
      if (adj[i][j]) cell.edges.push_back({static_cast<std::int32_t>(i), static_cast<std::int32_t>(j), "identity"});
  return cell;
}

std::vector<Action> Nb101Space::actions(const Genome& partial) const {
  const auto p = first_undecided(partial);
  if (p < 0) return {};
  if (static_cast<std::size_t>(p) >= kAdjacency) return {{p, 0}, {p, 1}, {p, 2}};
  std::int32_t edges = 0;
  for (std::size_t q = 0; q < kAdjacency; ++q) edges += partial[q] == 1 ? 1 : 0;
  if (edges >= kMaxEdges) return {{p, 0}};
  return {{p, 0}, {p, 1}};
}

Genome Nb101Space::apply(const Genome& partial, const Action& action) const {
  const std::int32_t limit = static_cast<std::size_t>(action.position) < kAdjacency ? 2 : 3;
  if (action.value < 0 || action.value >= limit) throw std::invalid_argument("Nb101Space::apply: value out of range");
  return apply_action(partial, action, "Nb101Space::apply");
}

bool Nb101Space::is_terminal(const Genome& partial) const { return first_undecided(partial) < 0; }

// ---------------------------------------------------------------- categorical

CategoricalSpace::CategoricalSpace(std::vector<Position> positions) : positions_(std::move(positions)) {
  if (positions_.empty()) throw std::invalid_argument("CategoricalSpace: needs at least one position");
  for (const auto& p : positions_) {
    if (p.values.size() < 2)
      throw std::invalid_argument("CategoricalSpace: position '" + p.name + "' needs at least 2 choices");
    encoding_size_ += p.values.size();
    digits_ = digits_ && p.values.size() <= 10;
  }
}

CategoricalSpace CategoricalSpace::from_yaml(const YAML::Node& node) {
  const std::string hint = " (write `space: {name: categorical, choices: [3, 4, 2]}` or `positions: "
                           "[{name: depth, values: [a, b]}, ...]`)";
  for (const auto& kv : node) {
    const auto key = kv.first.as<std::string>();
    if (key != "name" && key != "choices" && key != "positions")
      throw std::invalid_argument("space." + key + ": unknown key for the categorical space (valid: name, choices, positions)");
  }
  std::vector<Position> positions;
  if (node["choices"] && node["positions"])
    throw std::invalid_argument("space: give either space.choices or space.positions, not both" + hint);
  if (const auto choices = node["choices"]) {
    if (!choices.IsSequence()) throw std::invalid_argument("space.choices: must be a list of integers" + hint);
    for (std::size_t i = 0; i < choices.size(); ++i) {
      int k = 0;
      try {
        k = choices[i].as<int>();
      } catch (const YAML::Exception&) {
        throw std::invalid_argument("space.choices[" + std::to_string(i) + "]: not an integer" + hint);
      }
      if (k < 2) throw std::invalid_argument("space.choices[" + std::to_string(i) + "]: needs at least 2 choices");
      Position p{std::string(1, 'p').append(std::to_string(i)), {}};
      for (int v = 0; v < k; ++v) p.values.push_back(std::to_string(v));
      positions.push_back(std::move(p));
    }
  } else if (const auto list = node["positions"]) {
    if (!list.IsSequence()) throw std::invalid_argument("space.positions: must be a list" + hint);
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string path = "space.positions[" + std::to_string(i) + "]";
      const auto item = list[i];
      if (!item["values"] || !item["values"].IsSequence())
        throw std::invalid_argument(path + ".values: missing or not a list" + hint);
      Position p{item["name"] ? item["name"].as<std::string>() : std::string(1, 'p').append(std::to_string(i)), {}};
      for (const auto& v : item["values"]) p.values.push_back(v.as<std::string>());
      if (p.values.size() < 2) throw std::invalid_argument(path + ".values: needs at least 2 choices");
      positions.push_back(std::move(p));
    }
  } else {
    throw std::invalid_argument("space: the categorical space needs space.choices or space.positions" + hint);
  }
  return CategoricalSpace(std::move(positions));
}

Genome CategoricalSpace::sample(Rng& rng) const {
  Genome g;
  for (const auto& p : positions_)
    g.push_back(std::uniform_int_distribution<std::int32_t>(0, static_cast<std::int32_t>(p.values.size()) - 1)(rng));
  return g;
}

Genome CategoricalSpace::mutate(const Genome& genome, Rng& rng) const {
  if (!is_valid(genome)) throw std::invalid_argument("CategoricalSpace::mutate: invalid genome");
  Genome g = genome;
  const auto i = std::uniform_int_distribution<std::size_t>(0, positions_.size() - 1)(rng);
  const auto k = static_cast<std::int32_t>(positions_[i].values.size());
  g[i] = (g[i] + std::uniform_int_distribution<std::int32_t>(1, k - 1)(rng)) % k;
  return g;
}

std::vector<float> CategoricalSpace::encode(const Genome& genome) const {
  check_length(genome, positions_.size(), "CategoricalSpace::encode");
  std::vector<float> x(encoding_size_, 0.0f);
  std::size_t offset = 0;
  for (std::size_t i = 0; i < positions_.size(); ++i) {
    if (genome[i] >= 0) x[offset + static_cast<std::size_t>(genome[i])] = 1.0f;
    offset += positions_[i].values.size();
  }
  return x;
}

std::uint64_t CategoricalSpace::canonical_hash(const Genome& genome) const {
  if (!is_valid(genome)) throw std::invalid_argument("CategoricalSpace::canonical_hash: invalid or partial genome");
  return genome_hash(genome);
}

bool CategoricalSpace::is_valid(const Genome& genome) const {
  if (genome.size() != positions_.size()) return false;
  for (std::size_t i = 0; i < genome.size(); ++i)
    if (genome[i] < 0 || static_cast<std::size_t>(genome[i]) >= positions_[i].values.size()) return false;
  return true;
}

std::string CategoricalSpace::format(const Genome& genome) const {
  if (!is_valid(genome)) throw std::invalid_argument("CategoricalSpace::format: invalid or partial genome");
  std::string text;
  for (std::size_t i = 0; i < genome.size(); ++i) {
    if (!digits_ && i > 0) text += '-';
    text += std::to_string(genome[i]);
  }
  return text;
}

Genome CategoricalSpace::parse(std::string_view text) const {
  const std::string where = "CategoricalSpace::parse: '" + std::string(text) + "'";
  std::vector<std::string_view> tokens;
  if (digits_ && text.find('-') == std::string_view::npos) {
    for (std::size_t i = 0; i < text.size(); ++i) tokens.push_back(text.substr(i, 1));
  } else {
    std::size_t start = 0;
    while (true) {
      const auto dash = text.find('-', start);
      tokens.push_back(text.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
      if (dash == std::string_view::npos) break;
      start = dash + 1;
    }
  }
  if (tokens.size() != positions_.size())
    throw std::invalid_argument(where + " has " + std::to_string(tokens.size()) + " values, the space has " +
                                std::to_string(positions_.size()) + " positions");
  Genome g;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const auto& t = tokens[i];
    const bool numeric = !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
    const auto v = numeric && t.size() < 9 ? std::stoi(std::string(t)) : -1;
    if (v < 0 || static_cast<std::size_t>(v) >= positions_[i].values.size())
      throw std::invalid_argument(where + ": value '" + std::string(t) + "' of position '" + positions_[i].name +
                                  "' is not in 0.." + std::to_string(positions_[i].values.size() - 1));
    g.push_back(v);
  }
  return g;
}

CellGraph CategoricalSpace::to_cell(const Genome& genome) const {
  if (!is_valid(genome)) throw std::invalid_argument("CategoricalSpace::to_cell: invalid or partial genome");
  CellGraph cell;
  cell.num_nodes = static_cast<std::int32_t>(positions_.size()) + 1;
  cell.node_ops.assign(positions_.size() + 1, "");
  for (std::size_t i = 0; i < positions_.size(); ++i)
    cell.edges.push_back({static_cast<std::int32_t>(i), static_cast<std::int32_t>(i + 1),
                          positions_[i].values[static_cast<std::size_t>(genome[i])]});
  return cell;
}

std::vector<Action> CategoricalSpace::actions(const Genome& partial) const {
  const auto p = first_undecided(partial);
  if (p < 0) return {};
  std::vector<Action> result;
  const auto k = static_cast<std::int32_t>(positions_[static_cast<std::size_t>(p)].values.size());
  for (std::int32_t v = 0; v < k; ++v) result.push_back({p, v});
  return result;
}

Genome CategoricalSpace::apply(const Genome& partial, const Action& action) const {
  if (action.position < 0 || static_cast<std::size_t>(action.position) >= positions_.size() || action.value < 0 ||
      static_cast<std::size_t>(action.value) >= positions_[static_cast<std::size_t>(action.position)].values.size())
    throw std::invalid_argument("CategoricalSpace::apply: action out of range");
  return apply_action(partial, action, "CategoricalSpace::apply");
}

bool CategoricalSpace::is_terminal(const Genome& partial) const { return first_undecided(partial) < 0; }

}  // namespace alphax::search
