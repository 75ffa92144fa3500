#include "alphax/config.hpp"

#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace alphax::app {
namespace {

// Reads the keys of one map, remembering which were read, so that leftovers are reported.
class Section {
 public:
  Section(YAML::Node node, std::string path) : node_(std::move(node)), path_(std::move(path)) {
    if (node_ && !node_.IsNull() && !node_.IsMap())
      throw ConfigError(path_ + ": must be a map of keys (got a " + kind(node_) + ")");
  }

  template <typename T>
  T get(const std::string& key, T fallback, const char* type_name) {
    used_.insert(key);
    const YAML::Node value = lookup(key);
    if (!value || value.IsNull()) return fallback;
    if (!value.IsScalar()) throw ConfigError(where(key) + ": must be " + type_name + ", got a " + kind(value));
    try {
      return value.as<T>();
    } catch (const YAML::Exception&) {
      throw ConfigError(where(key) + ": '" + value.Scalar() + "' is not " + type_name);
    }
  }
  std::uint64_t get_count(const std::string& key, std::uint64_t fallback, std::uint64_t min) {
    const auto v = get<long long>(key, static_cast<long long>(fallback), "a whole number");
    if (v < static_cast<long long>(min))
      throw ConfigError(where(key) + ": " + std::to_string(v) + " is out of range; use a value >= " + std::to_string(min));
    return static_cast<std::uint64_t>(v);
  }
  double get_seconds(const std::string& key, double fallback) {
    const double v = get<double>(key, fallback, "a number");
    if (!std::isfinite(v) || v < 0.0)
      throw ConfigError(where(key) + ": " + std::to_string(v) + " is out of range; use a number >= 0 (0 = off)");
    return v;
  }
  std::string get_choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& choices) {
    const auto v = get<std::string>(key, fallback, "a string");
    for (const auto& c : choices)
      if (v == c) return v;
    std::string list;
    for (const auto& c : choices) list += (list.empty() ? "" : " | ") + c;
    throw ConfigError(where(key) + ": '" + v + "' is not one of " + list);
  }
  YAML::Node map(const std::string& key) {
    used_.insert(key);
    return lookup(key);
  }
  bool has(const std::string& key) const { return static_cast<bool>(lookup(key)); }
  /// Every key not read is a mistake: name it and list the valid ones.
  void reject_unknown() const {
    if (!node_ || !node_.IsMap()) return;
    for (const auto& item : node_) {
      const auto key = item.first.as<std::string>();
      if (!used_.count(key)) {
        std::string valid;
        for (const auto& k : used_) valid += (valid.empty() ? "" : ", ") + k;
        throw ConfigError(where(key) + ": unknown key; valid keys here: " + valid +
                          " (see docs/config.md)");
      }
    }
  }
  std::string where(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  YAML::Node lookup(const std::string& key) const {
    if (!node_ || !node_.IsMap()) return YAML::Node();
    return node_[key];
  }
  static std::string kind(const YAML::Node& n) {
    switch (n.Type()) {
      case YAML::NodeType::Map: return "map";
      case YAML::NodeType::Sequence: return "list";
      case YAML::NodeType::Scalar: return "scalar";
      default: return "null";
    }
  }

  YAML::Node node_;
  std::string path_;
  std::set<std::string> used_;
};

void set_path(YAML::Node node, const std::vector<std::string>& parts, std::size_t at, const YAML::Node& value,
              const std::string& assignment) {
  const std::string& key = parts[at];
  if (at + 1 == parts.size()) {
    node[key] = value;
    return;
  }
  YAML::Node child = node[key];
  if (!child || child.IsNull()) {
    node[key] = YAML::Node(YAML::NodeType::Map);
  } else if (!child.IsMap()) {
    throw ConfigError("--set " + assignment + ": '" + key + "' is not a map, so it has no key '" + parts[at + 1] + "'");
  }
  set_path(node[key], parts, at + 1, value, assignment);
}

YAML::Node required_map(Section& root, const std::string& key) {
  YAML::Node node = root.map(key);
  if (!node || node.IsNull())
    throw ConfigError(key + ": missing; add a '" + key + ":' section with at least 'name:' (see docs/config.md)");
  if (!node.IsMap() || !node["name"])
    throw ConfigError(key + ": must be a map with a 'name:' key (see docs/config.md)");
  return node;
}

}  // namespace

void apply_override(YAML::Node& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set '" + assignment + "': expected key.path=value, e.g. --set run.seed=7");
  const std::string path = assignment.substr(0, eq);
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) throw ConfigError("--set '" + assignment + "': empty key in '" + path + "'");
    parts.push_back(part);
  }
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set '" + assignment + "': the value is not valid YAML (" + e.msg + ")");
  }
  if (!root || root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  set_path(root, parts, 0, value, assignment);
}

RunConfig parse_config(const std::string& text, const std::vector<std::string>& overrides,
                       const std::filesystem::path& config_dir) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError("config: not valid YAML at line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root && !root.IsNull() && !root.IsMap()) throw ConfigError("config: the top level must be a map of sections");
  for (const auto& assignment : overrides) apply_override(root, assignment);

  RunConfig config;
  config.config_dir = config_dir;
  Section top(root, "");
  Section run(top.map("run"), "run");
  config.name = run.get<std::string>("name", config.name, "a string");
  config.output = run.get<std::string>("output", "runs/" + config.name, "a path");
  config.seed = run.get_count("seed", 0, 0);
  config.order = run.get_choice("order", "deterministic", {"deterministic", "arrival"}) == "arrival"
                     ? ResultOrder::arrival
                     : ResultOrder::deterministic;
  config.progress_seconds = run.get_seconds("progress_seconds", config.progress_seconds);
  config.stop_after_results = run.get_count("stop_after_results", 0, 0);
  const std::string restart = run.get_choice("restart", "auto", {"auto", "never", "require"});
  config.restart = restart == "auto" ? RestartMode::automatic
                   : restart == "never" ? RestartMode::never
                                        : RestartMode::require;
  Section budget(run.map("budget"), "run.budget");
  config.max_evaluations = budget.get_count("max_evaluations", config.max_evaluations, 1);
  config.max_wall_seconds = budget.get_seconds("max_wall_seconds", 0.0);
  if (const YAML::Node target = budget.map("target_objective"); target && !target.IsNull())
    config.target_objective = budget.get<double>("target_objective", 0.0, "a number");
  budget.reject_unknown();
  Section checkpoint(run.map("checkpoint"), "run.checkpoint");
  config.checkpoint_every_results = checkpoint.get_count("every_results", config.checkpoint_every_results, 0);
  config.checkpoint_every_seconds = checkpoint.get_seconds("every_seconds", config.checkpoint_every_seconds);
  checkpoint.reject_unknown();
  run.reject_unknown();

  Section trainers(top.map("trainers"), "trainers");
  config.group_size = static_cast<int>(trainers.get_count("group_size", 1, 1));
  config.pace_seconds = trainers.get_seconds("pace_seconds", 0.0);
  config.pace_scale = trainers.get_seconds("pace_scale", 0.0);
  trainers.reject_unknown();
  Section comm(top.map("comm"), "comm");
  config.comm_algorithm = comm.get_choice("algorithm", "auto", {"auto", "lp", "ring", "mpi", "nccl"});
  config.comm_block_bytes = static_cast<std::int64_t>(comm.get_count("block_bytes", 0, 0));
  comm.reject_unknown();

  config.space = required_map(top, "space");
  config.strategy = required_map(top, "strategy");
  config.evaluator = required_map(top, "evaluator");
  const auto evaluator_name = config.evaluator["name"].as<std::string>("");
  if (evaluator_name != "table" && evaluator_name != "train")
    throw ConfigError("evaluator.name: '" + evaluator_name + "' is not one of table | train");
  top.reject_unknown();

  YAML::Emitter out;
  out << root;
  config.effective_text = std::string(out.c_str()) + "\n";
  return config;
}

int num_groups(const RunConfig& config, int world_size) {
  return world_size <= 1 ? 1 : (world_size - 1) / config.group_size;
}

void check_layout(const RunConfig& config, int world_size) {
  if (world_size < 1) throw ConfigError("layout: world size must be at least 1");
  if (world_size > 1) {
    const int workers = world_size - 1;
    if (workers % config.group_size != 0)
      throw ConfigError("trainers.group_size: " + std::to_string(world_size) + " ranks give " +
                        std::to_string(workers) + " trainer ranks, not a multiple of group_size " +
                        std::to_string(config.group_size) + "; run with 1 + k*" + std::to_string(config.group_size) +
                        " ranks or change trainers.group_size");
  }
  const auto groups = static_cast<std::uint64_t>(num_groups(config, world_size));
  if (groups > config.max_evaluations)
    throw ConfigError("run.budget.max_evaluations: " + std::to_string(config.max_evaluations) + " evaluations cannot keep " +
                      std::to_string(groups) + " trainer groups busy; raise it to at least " + std::to_string(groups) +
                      ", use fewer ranks, or a larger trainers.group_size");
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path.string() + ": cannot read the config file (does it exist?)");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace alphax::app
