#pragma once
// Reads typed keys of one YAML map and reports unknown or ill-typed keys by their full path.
#include <set>
#include <stdexcept>
#include <string>

#include <yaml-cpp/yaml.h>

namespace alphax::search {

class ConfigReader {
 public:
  ConfigReader(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {
    if (node_ && !node_.IsMap()) throw std::invalid_argument(path_ + ": must be a map of keys");
  }

  int get_int(const std::string& key, int fallback, int min) {
    used_.insert(key);
    if (!node_[key]) return fallback;
    int v = 0;
    try {
      v = node_[key].as<int>();
    } catch (const YAML::Exception&) {
      throw std::invalid_argument(path_ + "." + key + ": '" + node_[key].as<std::string>("?") + "' is not an integer");
    }
    if (v < min) throw std::invalid_argument(path_ + "." + key + ": must be at least " + std::to_string(min));
    return v;
  }

  double get_double(const std::string& key, double fallback, double min) {
    used_.insert(key);
    if (!node_[key]) return fallback;
    double v = 0;
    try {
      v = node_[key].as<double>();
    } catch (const YAML::Exception&) {
      throw std::invalid_argument(path_ + "." + key + ": '" + node_[key].as<std::string>("?") + "' is not a number");
    }
    if (v < min) throw std::invalid_argument(path_ + "." + key + ": must be at least " + std::to_string(min));
    return v;
  }

  bool get_bool(const std::string& key, bool fallback) {
    used_.insert(key);
    if (!node_[key]) return fallback;
    try {
      return node_[key].as<bool>();
    } catch (const YAML::Exception&) {
      throw std::invalid_argument(path_ + "." + key + ": '" + node_[key].as<std::string>("?") +
                                  "' is not true/false");
    }
  }

  std::string get_string(const std::string& key, const std::string& fallback) {
    used_.insert(key);
    if (!node_[key]) return fallback;
    return node_[key].as<std::string>();
  }

  YAML::Node get_node(const std::string& key) {
    used_.insert(key);
    return node_[key];
  }

  void allow(const std::string& key) { used_.insert(key); }

  /// Throws for a key that no get_* asked for, listing the valid keys.
  void check_unknown() const {
    if (!node_) return;
    for (const auto& kv : node_) {
      const auto key = kv.first.as<std::string>();
      if (used_.count(key)) continue;
      std::string valid;
      for (const auto& k : used_) valid += (valid.empty() ? "" : ", ") + k;
      throw std::invalid_argument(path_ + "." + key + ": unknown key (valid keys: " + valid + ")");
    }
  }

 private:
  YAML::Node node_;
  std::string path_;
  std::set<std::string> used_;
};

}  // namespace alphax::search
