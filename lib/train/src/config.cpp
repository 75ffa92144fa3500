#include "alphax/train/config.hpp"

#include <algorithm>
#include <initializer_list>
#include <stdexcept>

#include "alphax/train/isgd.hpp"

namespace alphax::train {
namespace {

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

// Reads the keys of one YAML map, checking that every key is known.
class MapReader {
 public:
  MapReader(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {
    if (!node.IsMap()) {
      throw std::invalid_argument("train config: '" + (path_.empty() ? std::string("<top level>") : path_) +
                                  "' must be a map of keys");
    }
  }

  void check_keys(std::initializer_list<std::string_view> known,
                  std::span<const std::string_view> ignored = {}, bool allow_numeric_extra = false) const {
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>();
      const bool ok = std::find(known.begin(), known.end(), key) != known.end() ||
                      std::find(ignored.begin(), ignored.end(), key) != ignored.end() ||
                      (allow_numeric_extra && kv.second.IsScalar());
      if (!ok) {
        std::string list;
        for (const auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
        throw std::invalid_argument("train config: unknown key '" + join_path(path_, key) +
                                    "'; known keys: " + list);
      }
    }
  }

  template <typename T>
  void get(const char* key, T& out) const {
    const YAML::Node v = node_[key];
    if (!v) return;
    try {
      out = v.as<T>();
    } catch (const YAML::Exception&) {
      throw std::invalid_argument("train config: '" + join_path(path_, key) + "' must be " + type_name<T>() +
                                  ", got '" + (v.IsScalar() ? v.Scalar() : std::string("a non-scalar")) +
                                  "'");
    }
  }

  [[nodiscard]] MapReader sub(const char* key) const { return MapReader(node_[key], join_path(path_, key)); }
  [[nodiscard]] bool has(const char* key) const { return static_cast<bool>(node_[key]); }
  [[nodiscard]] const YAML::Node& node() const { return node_; }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  template <typename T>
  static const char* type_name() {
    if constexpr (std::is_same_v<T, bool>) return "true or false";
    if constexpr (std::is_same_v<T, std::string>) return "a string";
    if constexpr (std::is_floating_point_v<T>) return "a number";
    return "an integer";
  }

  YAML::Node node_;
  std::string path_;
};

}  // namespace

TrainConfig parse_train_config(const YAML::Node& node, const std::string& path,
                               std::span<const std::string_view> ignored) {
  TrainConfig c;
  const MapReader top(node, path);
  top.check_keys({"arch", "seed", "threads", "epochs", "batch", "data", "network", "optimizer", "schedule",
                  "parallel", "transfer"},
                 ignored);
  top.get("arch", c.arch);
  top.get("seed", c.seed);
  top.get("threads", c.threads);
  top.get("epochs", c.epochs);
  top.get("batch", c.batch);
  if (top.has("data")) {
    const auto d = top.sub("data");
    d.check_keys({"set", "dir", "train_subset", "validation", "test_subset", "normalize", "order"});
    d.get("set", c.data.set);
    d.get("dir", c.data.dir);
    d.get("train_subset", c.data.train_subset);
    d.get("validation", c.data.validation);
    d.get("test_subset", c.data.test_subset);
    d.get("normalize", c.data.normalize);
    d.get("order", c.data.order);
  }
  if (top.has("network")) {
    const auto n = top.sub("network");
    n.check_keys({"skeleton", "cells_per_stage", "channels"});
    n.get("skeleton", c.network.skeleton);
    n.get("cells_per_stage", c.network.cells_per_stage);
    n.get("channels", c.network.channels);
  }
  if (top.has("optimizer")) {
    const auto o = top.sub("optimizer");
    o.get("name", c.optimizer.name);
    // Optimizers other than SGD may take extra numeric settings (e.g. ISGD's epsilon); they land in `extra`.
    const bool other = c.optimizer.name != "sgd";
    o.check_keys({"name", "lr", "momentum", "weight_decay", "nesterov"}, {}, other);
    o.get("lr", c.optimizer.lr);
    o.get("momentum", c.optimizer.momentum);
    o.get("weight_decay", c.optimizer.weight_decay);
    o.get("nesterov", c.optimizer.nesterov);
    if (other) {
      for (const auto& kv : o.node()) {
        const auto key = kv.first.as<std::string>();
        if (key == "name" || key == "lr" || key == "momentum" || key == "weight_decay" || key == "nesterov")
          continue;
        double value = 0;
        o.get(key.c_str(), value);
        c.optimizer.extra.emplace_back(key, value);
      }
    }
  }
  if (top.has("schedule")) {
    const auto s = top.sub("schedule");
    s.check_keys({"name", "warmup_epochs", "min_lr", "step_epochs", "gamma", "scaling", "base_batch",
                  "base_lr", "base_warmup_epochs"});
    s.get("scaling", c.schedule.scaling);
    s.get("base_batch", c.schedule.base_batch);
    s.get("base_lr", c.schedule.base_lr);
    s.get("base_warmup_epochs", c.schedule.base_warmup_epochs);
    s.get("name", c.schedule.name);
    s.get("warmup_epochs", c.schedule.warmup_epochs);
    s.get("min_lr", c.schedule.min_lr);
    s.get("step_epochs", c.schedule.step_epochs);
    s.get("gamma", c.schedule.gamma);
  }
  if (top.has("parallel")) {
    const auto p = top.sub("parallel");
    p.check_keys({"sync_batch_norm", "allreduce", "broadcast"});
    p.get("sync_batch_norm", c.parallel.sync_batch_norm);
    p.get("allreduce", c.parallel.allreduce);
    p.get("broadcast", c.parallel.broadcast);
  }
  if (top.has("transfer")) {
    const auto t = top.sub("transfer");
    t.check_keys({"cache_size", "epochs_fraction", "max_distance", "parents"});
    t.get("cache_size", c.transfer.cache_size);
    t.get("epochs_fraction", c.transfer.epochs_fraction);
    t.get("max_distance", c.transfer.max_distance);
    t.get("parents", c.transfer.parents);
  }
  validate_train_config(c);
  return c;
}

TrainConfig load_train_config(const std::filesystem::path& file) {
  if (!std::filesystem::exists(file)) {
    throw std::invalid_argument("load_train_config: '" + file.string() +
                                "' does not exist; pass an existing YAML file to --config (see inputs/)");
  }
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument("load_train_config: '" + file.string() + "' is not valid YAML: " + e.what());
  }
  try {
    return parse_train_config(root);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(file.string() + ": " + e.what());
  }
}

void validate_train_config(const TrainConfig& c) {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw std::invalid_argument("train config: " + what);
  };
  require(c.epochs >= 1, "epochs must be >= 1, got " + std::to_string(c.epochs));
  require(c.batch >= 1, "batch must be >= 1, got " + std::to_string(c.batch));
  require(c.threads >= 0, "threads must be >= 0 (0 = default), got " + std::to_string(c.threads));
  require(c.data.train_subset >= 0,
          "data.train_subset must be >= 0 (0 = all), got " + std::to_string(c.data.train_subset));
  require(c.data.validation >= 0, "data.validation must be >= 0, got " + std::to_string(c.data.validation));
  require(c.data.test_subset >= 0,
          "data.test_subset must be >= 0 (0 = all), got " + std::to_string(c.data.test_subset));
  require(c.data.set == "fashion-mnist" || c.data.set == "mnist" || c.data.set == "cifar10",
          "data.set must be fashion-mnist, mnist or cifar10, got '" + c.data.set + "'");
  require(c.data.order == "reshuffle" || c.data.order == "fixed_cycle",
          "data.order must be reshuffle or fixed_cycle, got '" + c.data.order + "'");
  require(c.network.skeleton == "nb201" || c.network.skeleton == "plain",
          "network.skeleton must be nb201 or plain, got '" + c.network.skeleton + "'");
  require(c.network.channels >= 1,
          "network.channels must be >= 1, got " + std::to_string(c.network.channels));
  require(c.network.cells_per_stage >= 0,
          "network.cells_per_stage must be >= 0, got " + std::to_string(c.network.cells_per_stage));
  require(c.optimizer.lr > 0, "optimizer.lr must be > 0, got " + std::to_string(c.optimizer.lr));
  require(c.optimizer.momentum >= 0 && c.optimizer.momentum < 1,
          "optimizer.momentum must be in [0, 1), got " + std::to_string(c.optimizer.momentum));
  require(c.optimizer.weight_decay >= 0,
          "optimizer.weight_decay must be >= 0, got " + std::to_string(c.optimizer.weight_decay));
  require(c.schedule.name == "cosine" || c.schedule.name == "step" || c.schedule.name == "constant",
          "schedule.name must be cosine, step or constant, got '" + c.schedule.name + "'");
  require(c.schedule.warmup_epochs >= 0 && c.schedule.warmup_epochs <= static_cast<double>(c.epochs),
          "schedule.warmup_epochs must be in [0, epochs], got " + std::to_string(c.schedule.warmup_epochs));
  require(c.optimizer.name == "sgd" || c.optimizer.name == "isgd",
          "optimizer.name must be sgd or isgd, got '" + c.optimizer.name + "'");
  if (c.optimizer.name == "isgd") (void)parse_isgd_config(c.optimizer);  // range-checks epsilon, zeta, window
  require(c.schedule.min_lr >= 0, "schedule.min_lr must be >= 0");
  require(c.schedule.step_epochs > 0, "schedule.step_epochs must be > 0");
  require(c.schedule.scaling == "none" || c.schedule.scaling == "linear" || c.schedule.scaling == "legw",
          "schedule.scaling must be none, linear or legw, got '" + c.schedule.scaling + "'");
  require(c.schedule.scaling == "none" ||
              (c.schedule.base_batch >= 1 && c.schedule.base_lr > 0 && c.schedule.base_warmup_epochs >= 0),
          "schedule.scaling: " + c.schedule.scaling +
              " needs base_batch >= 1, base_lr > 0 and base_warmup_epochs >= 0 (the settings tuned at "
              "base_batch)");
  const auto algorithm_ok = [](const std::string& a) {
    return a == "auto" || a == "lp" || a == "ring" || a == "mpi";
  };
  require(algorithm_ok(c.parallel.allreduce),
          "parallel.allreduce must be auto, lp, ring or mpi, got '" + c.parallel.allreduce + "'");
  require(algorithm_ok(c.parallel.broadcast) && c.parallel.broadcast != "ring",
          "parallel.broadcast must be auto, lp or mpi, got '" + c.parallel.broadcast + "'");
  require(c.transfer.cache_size >= 0,
          "transfer.cache_size must be >= 0 (0 = off), got " + std::to_string(c.transfer.cache_size));
  require(c.transfer.epochs_fraction > 0 && c.transfer.epochs_fraction <= 1,
          "transfer.epochs_fraction must be in (0, 1], got " + std::to_string(c.transfer.epochs_fraction));
  require(c.transfer.max_distance >= 0,
          "transfer.max_distance must be >= 0 (0 = any), got " + std::to_string(c.transfer.max_distance));
  require(c.transfer.parents == "any" || c.transfer.parents == "scratch",
          "transfer.parents must be any or scratch, got '" + c.transfer.parents + "'");
}

std::string to_yaml(const TrainConfig& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (!c.arch.empty()) out << YAML::Key << "arch" << YAML::Value << YAML::DoubleQuoted << c.arch;
  out << YAML::Key << "seed" << YAML::Value << c.seed;
  out << YAML::Key << "threads" << YAML::Value << c.threads;
  out << YAML::Key << "epochs" << YAML::Value << c.epochs;
  out << YAML::Key << "batch" << YAML::Value << c.batch;
  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "set" << YAML::Value << c.data.set << YAML::Key << "dir" << YAML::Value << c.data.dir;
  out << YAML::Key << "train_subset" << YAML::Value << c.data.train_subset;
  out << YAML::Key << "validation" << YAML::Value << c.data.validation;
  out << YAML::Key << "test_subset" << YAML::Value << c.data.test_subset;
  out << YAML::Key << "normalize" << YAML::Value << c.data.normalize;
  out << YAML::Key << "order" << YAML::Value << c.data.order << YAML::EndMap;
  out << YAML::Key << "network" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "skeleton" << YAML::Value << c.network.skeleton;
  out << YAML::Key << "cells_per_stage" << YAML::Value << c.network.cells_per_stage;
  out << YAML::Key << "channels" << YAML::Value << c.network.channels << YAML::EndMap;
  out << YAML::Key << "optimizer" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << c.optimizer.name;
  out << YAML::Key << "lr" << YAML::Value << c.optimizer.lr;
  out << YAML::Key << "momentum" << YAML::Value << c.optimizer.momentum;
  out << YAML::Key << "weight_decay" << YAML::Value << c.optimizer.weight_decay;
  out << YAML::Key << "nesterov" << YAML::Value << c.optimizer.nesterov;
  for (const auto& [k, v] : c.optimizer.extra) out << YAML::Key << k << YAML::Value << v;
  out << YAML::EndMap;
  out << YAML::Key << "schedule" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << c.schedule.name;
  out << YAML::Key << "warmup_epochs" << YAML::Value << c.schedule.warmup_epochs;
  out << YAML::Key << "min_lr" << YAML::Value << c.schedule.min_lr;
  out << YAML::Key << "step_epochs" << YAML::Value << c.schedule.step_epochs;
  out << YAML::Key << "gamma" << YAML::Value << c.schedule.gamma;
  out << YAML::Key << "scaling" << YAML::Value << c.schedule.scaling;
  if (c.schedule.scaling != "none") {
    out << YAML::Key << "base_batch" << YAML::Value << c.schedule.base_batch;
    out << YAML::Key << "base_lr" << YAML::Value << c.schedule.base_lr;
    out << YAML::Key << "base_warmup_epochs" << YAML::Value << c.schedule.base_warmup_epochs;
  }
  out << YAML::EndMap;
  out << YAML::Key << "parallel" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "sync_batch_norm" << YAML::Value << c.parallel.sync_batch_norm;
  out << YAML::Key << "allreduce" << YAML::Value << c.parallel.allreduce;
  out << YAML::Key << "broadcast" << YAML::Value << c.parallel.broadcast << YAML::EndMap;
  out << YAML::Key << "transfer" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "cache_size" << YAML::Value << c.transfer.cache_size;
  out << YAML::Key << "epochs_fraction" << YAML::Value << c.transfer.epochs_fraction;
  out << YAML::Key << "max_distance" << YAML::Value << c.transfer.max_distance;
  out << YAML::Key << "parents" << YAML::Value << c.transfer.parents << YAML::EndMap;
  out << YAML::EndMap;
  return out.c_str();
}

}  // namespace alphax::train
