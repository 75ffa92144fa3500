// `alphax bench train`: training benchmarks on real data — SGD vs ISGD time to a target validation
// accuracy, LEGW vs linear learning-rate scaling at large global batches, and the accuracy ranking
// of architectures trained briefly from their parent's weights vs fully from scratch.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_set>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "alphax/commands.hpp"
#include "alphax/search/registry.hpp"
#include "alphax/tensor/threading.hpp"
#include "alphax/train/legw.hpp"
#include "alphax/train/trainer.hpp"
#include "alphax/train/weight_cache.hpp"
#include "alphax/train_evaluator.hpp"

namespace alphax::app {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BenchTrainOptions {
  std::string config;
  std::vector<std::string> compare;
  std::int64_t seeds = 1;
  std::int64_t only_seed = 0;
  std::vector<std::int64_t> batches;
  std::int64_t transfer = 0;
  std::string part = "all";
  std::string out = "bench/results/train";
  std::string plot_script = "bench/train/plot_train_bench.py";
  bool force = false;
};

/// The `bench:` block of the input; everything else is a training config.
struct BenchSettings {
  double target_accuracy = 0;        // percent of validation accuracy (optimizer comparison)
  std::int64_t evals_per_epoch = 1;  // validation points per epoch (time-to-target resolution)
};

struct BenchInput {
  train::TrainConfig config;
  BenchSettings bench;
};

BenchInput load_input(const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(file);
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument("alphax bench train: '" + file + "' is not valid YAML: " + e.what());
  }
  static constexpr std::string_view kIgnored[] = {"bench"};
  BenchInput input;
  try {
    input.config = train::parse_train_config(root, "", kIgnored);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(file + ": " + e.what());
  }
  if (const YAML::Node b = root["bench"]) {
    if (!b.IsMap())
      throw std::invalid_argument(file + ": 'bench' must be a map (target_accuracy, evals_per_epoch)");
    for (const auto& kv : b) {
      const auto key = kv.first.as<std::string>();
      if (key != "target_accuracy" && key != "evals_per_epoch")
        throw std::invalid_argument(file + ": unknown key 'bench." + key +
                                    "'; known: target_accuracy, evals_per_epoch");
    }
    if (b["target_accuracy"]) input.bench.target_accuracy = b["target_accuracy"].as<double>();
    if (b["evals_per_epoch"]) input.bench.evals_per_epoch = b["evals_per_epoch"].as<std::int64_t>();
  }
  if (input.bench.evals_per_epoch < 1)
    throw std::invalid_argument(file + ": bench.evals_per_epoch must be >= 1");
  return input;
}

train::CellSpec cell_of(const train::TrainConfig& config) {
  if (config.network.skeleton != "nb201") return {};
  if (config.arch.empty())
    throw std::invalid_argument(
        "alphax bench train: network.skeleton nb201 needs `arch:` (an NB201 cell string)");
  return train::parse_nb201_cell(config.arch);
}

/// One validation point of a training curve.
struct CurvePoint {
  std::int64_t step = 0;
  double epoch = 0;
  double train_seconds = 0;  // training steps only, not validation
  double validation_accuracy = 0;
  double train_loss = 0;  // mean batch loss since the previous point
  std::int64_t isgd_batches = 0;
  std::int64_t isgd_extra_steps = 0;
};

struct Curve {
  std::vector<CurvePoint> points;
  double test_accuracy = std::nan("");
  double peak_lr = 0;
  double warmup_epochs = 0;
  bool diverged = false;
};

/// Trains `network` (already initialised) with `config`, validating `evals_per_epoch` times per epoch.
Curve train_curve(const train::TrainConfig& config, train::Network& network, const train::PreparedData& data,
                  std::int64_t evals_per_epoch, bool test_at_end) {
  train::Trainer trainer(config, network, data.train, data.validation, data.stats);
  Curve curve;
  curve.peak_lr = trainer.plan().peak_lr;
  curve.warmup_epochs = trainer.plan().schedule.warmup_epochs;
  const std::int64_t per_epoch = trainer.batches().batches_per_epoch();
  const std::int64_t interval = std::max<std::int64_t>(1, per_epoch / evals_per_epoch);
  double seconds = 0, loss_sum = 0;
  std::int64_t losses = 0, over = 0, extra = 0;
  auto record = [&](std::int64_t epoch_index, std::int64_t in_epoch) {
    CurvePoint p;
    p.step = trainer.iteration();
    p.epoch =
        static_cast<double>(epoch_index) + static_cast<double>(in_epoch) / static_cast<double>(per_epoch);
    p.train_seconds = seconds;
    p.validation_accuracy = trainer.evaluate(data.validation).accuracy;
    p.train_loss = losses > 0 ? loss_sum / static_cast<double>(losses) : std::nan("");
    p.isgd_batches = over;
    p.isgd_extra_steps = extra;
    curve.points.push_back(p);
    loss_sum = 0;
    losses = 0;
  };
  for (std::int64_t epoch = 0; epoch < config.epochs && !curve.diverged; ++epoch) {
    std::int64_t in_epoch = 0;
    for (auto batch = trainer.batches().next(); !batch.empty(); batch = trainer.batches().next()) {
      const auto t0 = Clock::now();
      const double loss = trainer.train_step(batch);
      seconds += std::chrono::duration<double>(Clock::now() - t0).count();
      ++in_epoch;
      if (!std::isfinite(loss)) {
        curve.diverged = true;
        break;
      }
      loss_sum += loss;
      ++losses;
      if (trainer.last_isgd_step().over_limit) {
        ++over;
        extra += trainer.last_isgd_step().extra.steps;
      }
      // evals_per_epoch - 1 points inside the epoch; the last one is at its end.
      if (in_epoch % interval == 0 && in_epoch / interval < evals_per_epoch) record(epoch, in_epoch);
    }
    trainer.batches().next_epoch();
    if (!curve.diverged) record(epoch + 1, 0);
  }
  if (test_at_end && !curve.diverged) curve.test_accuracy = trainer.evaluate(data.test).accuracy;
  return curve;
}

Curve train_from_scratch(const train::TrainConfig& config, const train::CellSpec& cell,
                         const train::PreparedData& data, std::int64_t evals_per_epoch, bool test_at_end) {
  train::Network network(train::make_network_spec(config.network, cell, data.train));
  network.initialize(config.seed);
  return train_curve(config, network, data, evals_per_epoch, test_at_end);
}

void write_curve(const fs::path& file, const Curve& curve) {
  std::ofstream csv(file);
  csv << "step,epoch,train_seconds,validation_accuracy,train_loss,isgd_batches,isgd_extra_steps,test_"
         "accuracy,peak_lr,"
         "warmup_epochs\n";
  for (const auto& p : curve.points) {
    csv << p.step << ',' << p.epoch << ',' << p.train_seconds << ',' << p.validation_accuracy << ','
        << p.train_loss << ',' << p.isgd_batches << ',' << p.isgd_extra_steps << ',' << curve.test_accuracy
        << ',' << curve.peak_lr << ',' << curve.warmup_epochs << '\n';
  }
  if (!csv) throw std::runtime_error("alphax bench train: cannot write " + file.string());
}

std::vector<std::map<std::string, double>> read_csv(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  for (std::stringstream s(line); std::getline(s, line, ',');) header.push_back(line);
  std::vector<std::map<std::string, double>> rows;
  while (std::getline(in, line)) {
    std::map<std::string, double> row;
    std::stringstream s(line);
    std::string cell;
    for (std::size_t i = 0; i < header.size() && std::getline(s, cell, ','); ++i)
      row[header[i]] = std::strtod(cell.c_str(), nullptr);
    rows.push_back(std::move(row));
  }
  return rows;
}

double mean_of(const std::vector<double>& v) {
  return v.empty() ? std::nan("") : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double stddev_of(const std::vector<double>& v) {
  if (v.size() < 2) return std::nan("");
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size() - 1));
}

void set_threads(const train::TrainConfig& config) {
  if (config.threads > 0) tensor::set_num_threads(config.threads);
}

/// Seed of run `index` (0-based) and the indices this invocation runs.
std::vector<std::int64_t> seed_indices(const BenchTrainOptions& o) {
  if (o.seeds < 1) throw std::invalid_argument("alphax bench train: --seeds must be >= 1");
  if (o.only_seed < 0 || o.only_seed > o.seeds)
    throw std::invalid_argument("alphax bench train: --only-seed must be in 1..--seeds");
  std::vector<std::int64_t> out;
  for (std::int64_t i = 0; i < o.seeds; ++i)
    if (o.only_seed == 0 || o.only_seed == i + 1) out.push_back(i);
  return out;
}

// ---- SGD vs ISGD: time and epochs to a target validation accuracy -------------------------------

/// The training time between validation points is the same work every time; an interval over twice
/// the median means another process took the CPU (the lock keeps out builds, not everything).
void warn_if_disturbed(const Curve& curve, const std::string& name, std::uint64_t seed, std::int64_t index) {
  std::vector<double> intervals;
  double previous = 0;
  for (const auto& p : curve.points) {
    intervals.push_back(p.train_seconds - previous);
    previous = p.train_seconds;
  }
  if (intervals.size() < 3) return;
  std::vector<double> sorted = intervals;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2),
                   sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double worst = *std::max_element(intervals.begin(), intervals.end());
  if (worst > 2.0 * median)
    std::printf(
        "warning: %s seed %llu: timing disturbed (an interval of %.1f s, median %.1f s); rerun the pair "
        "with --only-seed %lld --force\n",
        name.c_str(), static_cast<unsigned long long>(seed), worst, median, static_cast<long long>(index));
}

train::TrainConfig with_optimizer(train::TrainConfig config, const std::string& name) {
  if (name != "sgd" && name != "isgd")
    throw std::invalid_argument(
        "alphax bench train: --compare takes optimizer names sgd, isgd or warm-up rules "
        "none, linear, legw; got '" +
        name + "'");
  if (name == "sgd") config.optimizer.extra.clear();  // ISGD's epsilon/zeta/window from the input
  config.optimizer.name = name;
  train::validate_train_config(config);
  return config;
}

void compare_optimizers(const BenchTrainOptions& o, const BenchInput& input) {
  if (input.bench.target_accuracy <= 0)
    throw std::invalid_argument(o.config +
                                ": comparing optimizers needs bench.target_accuracy (validation %)");
  const fs::path runs = fs::path(o.out) / "runs";
  fs::create_directories(runs);
  set_threads(input.config);
  const train::CellSpec cell = cell_of(input.config);
  for (const std::int64_t i : seed_indices(o)) {
    const std::uint64_t seed = input.config.seed + static_cast<std::uint64_t>(i);
    std::vector<std::string> order = o.compare;
    if (i % 2 == 1) std::reverse(order.begin(), order.end());  // neither variant always runs first
    std::optional<train::PreparedData> data;
    for (const auto& name : order) {
      const fs::path file = runs / (name + "-seed" + std::to_string(seed) + ".csv");
      if (fs::exists(file) && !o.force) {
        std::cout << "kept " << file.string() << " (use --force to rerun)\n";
        continue;
      }
      train::TrainConfig config = with_optimizer(input.config, name);
      config.seed = seed;
      if (!data) data = train::prepare_data(config.data, seed);
      const Curve curve = train_from_scratch(config, cell, *data, input.bench.evals_per_epoch, false);
      write_curve(file, curve);
      warn_if_disturbed(curve, name, seed, i + 1);
      const auto& last = curve.points.empty() ? CurvePoint{} : curve.points.back();
      std::printf(
          "%-5s seed %llu: %.1f s of training, final validation accuracy %.2f %%, %lld batches over the "
          "ISGD limit, %lld extra steps%s\n",
          name.c_str(), static_cast<unsigned long long>(seed), last.train_seconds, last.validation_accuracy,
          static_cast<long long>(last.isgd_batches), static_cast<long long>(last.isgd_extra_steps),
          curve.diverged ? " (diverged)" : "");
      std::fflush(stdout);
    }
  }
  // The summary covers every run of the seed set present in the directory (runs may come from
  // several invocations, e.g. one --only-seed per cpu-exclusive slot).
  std::ofstream(fs::path(o.out) / "target.txt") << input.bench.target_accuracy << '\n';  // for the plot
  std::ofstream csv(fs::path(o.out) / "summary.csv");
  csv << "optimizer,seeds,reached,seconds_to_target_mean,epochs_to_target_mean,final_accuracy_mean\n";
  std::map<std::string, double> seconds_mean;
  for (const auto& name : o.compare) {
    std::vector<double> seconds, epochs, finals;
    std::int64_t present = 0;
    for (std::int64_t i = 0; i < o.seeds; ++i) {
      const fs::path file =
          runs /
          (name + "-seed" + std::to_string(input.config.seed + static_cast<std::uint64_t>(i)) + ".csv");
      if (!fs::exists(file)) continue;
      const auto rows = read_csv(file);
      if (rows.empty()) continue;
      ++present;
      finals.push_back(rows.back().at("validation_accuracy"));
      for (const auto& r : rows) {
        if (r.at("validation_accuracy") >= input.bench.target_accuracy) {
          seconds.push_back(r.at("train_seconds"));
          epochs.push_back(r.at("epoch"));
          break;
        }
      }
    }
    seconds_mean[name] = mean_of(seconds);
    csv << name << ',' << present << ',' << seconds.size() << ',' << mean_of(seconds) << ','
        << mean_of(epochs) << ',' << mean_of(finals) << '\n';
    std::printf(
        "%-5s %lld runs, %zu reached %.2f %%: %.1f s, %.2f epochs to the target (means); final accuracy %.2f "
        "%%\n",
        name.c_str(), static_cast<long long>(present), seconds.size(), input.bench.target_accuracy,
        mean_of(seconds), mean_of(epochs), mean_of(finals));
  }
  if (o.compare.size() == 2) {
    const double a = seconds_mean[o.compare[0]], b = seconds_mean[o.compare[1]];
    std::printf("%s needs %.1f %% %s time to the target than %s\n", o.compare[1].c_str(),
                100.0 * std::abs(1.0 - b / a), b <= a ? "less" : "more", o.compare[0].c_str());
  }
}

// ---- LEGW vs linear scaling: final accuracy at several global batches ---------------------------

void compare_scaling(const BenchTrainOptions& o, const BenchInput& input) {
  if (o.batches.empty())
    throw std::invalid_argument("alphax bench train: comparing warm-up rules needs --batches");
  const fs::path runs = fs::path(o.out) / "runs";
  fs::create_directories(runs);
  set_threads(input.config);
  const train::CellSpec cell = cell_of(input.config);
  for (const std::int64_t i : seed_indices(o)) {
    const std::uint64_t seed = input.config.seed + static_cast<std::uint64_t>(i);
    const train::PreparedData data = train::prepare_data(input.config.data, seed);
    for (const std::int64_t batch : o.batches) {
      // Rules that give the same plan (linear and legw at the base batch) train the same run: it is
      // trained once and copied, since a run is a deterministic function of its config.
      std::vector<std::pair<train::LearningRatePlan, fs::path>> trained;
      for (const auto& rule : o.compare) {
        const fs::path file =
            runs / (rule + "-b" + std::to_string(batch) + "-seed" + std::to_string(seed) + ".csv");
        train::TrainConfig config = input.config;
        config.seed = seed;
        config.batch = batch;
        config.schedule.scaling = rule;
        train::validate_train_config(config);
        const train::LearningRatePlan plan = train::learning_rate_plan(config, batch);
        const auto same = std::find_if(trained.begin(), trained.end(), [&](const auto& t) {
          return t.first.peak_lr == plan.peak_lr &&
                 t.first.schedule.warmup_epochs == plan.schedule.warmup_epochs;
        });
        if (same != trained.end() && (!fs::exists(file) || o.force)) {
          fs::copy_file(same->second, file, fs::copy_options::overwrite_existing);
          std::printf("%-6s batch %5lld seed %llu: the same plan as %s, run copied\n", rule.c_str(),
                      static_cast<long long>(batch), static_cast<unsigned long long>(seed),
                      same->second.filename().c_str());
        }
        if (fs::exists(file) && (!o.force || same != trained.end())) {
          trained.emplace_back(plan, file);
          continue;
        }
        const Curve curve = train_from_scratch(config, cell, data, 1, true);
        write_curve(file, curve);
        trained.emplace_back(plan, file);
        std::printf(
            "%-6s batch %5lld seed %llu: peak lr %.4f, warm-up %.2f epochs, final validation %.2f %%, test "
            "%.2f %%%s\n",
            rule.c_str(), static_cast<long long>(batch), static_cast<unsigned long long>(seed), curve.peak_lr,
            curve.warmup_epochs,
            curve.points.empty() ? std::nan("") : curve.points.back().validation_accuracy,
            curve.test_accuracy, curve.diverged ? " (diverged)" : "");
        std::fflush(stdout);
      }
    }
  }
  std::ofstream csv(fs::path(o.out) / "summary.csv");
  csv << "scaling,batch,seeds,diverged,peak_lr,warmup_epochs,final_accuracy_mean,final_accuracy_std,test_"
         "accuracy_mean\n";
  for (const std::int64_t batch : o.batches) {
    for (const auto& rule : o.compare) {
      std::vector<double> finals, tests;
      double peak = std::nan(""), warmup = std::nan("");
      std::int64_t runs_found = 0, diverged = 0;
      for (std::int64_t i = 0; i < o.seeds; ++i) {
        const fs::path file =
            runs / (rule + "-b" + std::to_string(batch) + "-seed" +
                    std::to_string(input.config.seed + static_cast<std::uint64_t>(i)) + ".csv");
        if (!fs::exists(file)) continue;
        ++runs_found;
        const auto rows = read_csv(file);
        // A diverged run stops writing points: it is counted, its accuracy is not averaged.
        if (rows.empty() || std::llround(rows.back().at("epoch")) != input.config.epochs) {
          ++diverged;
          continue;
        }
        finals.push_back(rows.back().at("validation_accuracy"));
        tests.push_back(rows.back().at("test_accuracy"));
        peak = rows.back().at("peak_lr");
        warmup = rows.back().at("warmup_epochs");
      }
      csv << rule << ',' << batch << ',' << runs_found << ',' << diverged << ',' << peak << ',' << warmup
          << ',' << mean_of(finals) << ',' << stddev_of(finals) << ',' << mean_of(tests) << '\n';
    }
  }
}

// ---- weight transfer: accuracy ranking with transfer at fewer epochs vs from scratch ------------

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  auto ranks = [](const std::vector<double>& v) {
    std::vector<std::size_t> order(v.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](std::size_t x, std::size_t y) { return v[x] < v[y]; });
    std::vector<double> r(v.size());
    for (std::size_t i = 0; i < order.size();) {
      std::size_t j = i;
      while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
      for (std::size_t k = i; k <= j; ++k)
        r[order[k]] = 0.5 * static_cast<double>(i + j) + 1.0;  // ties: mean rank
      i = j + 1;
    }
    return r;
  };
  const auto ra = ranks(a), rb = ranks(b);
  const double ma = mean_of(ra), mb = mean_of(rb);
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    sab += (ra[i] - ma) * (rb[i] - mb);
    saa += (ra[i] - ma) * (ra[i] - ma);
    sbb += (rb[i] - mb) * (rb[i] - mb);
  }
  return sab / std::sqrt(saa * sbb);
}

/// The benchmark's architectures: the input's cell, then `count` children, each one mutation of a
/// uniformly chosen earlier architecture (as a search's children are of their parents), distinct.
std::vector<std::string> transfer_archs(const train::TrainConfig& config, std::int64_t count) {
  const auto space = search::make_space(YAML::Load("name: nb201"));
  search::Rng rng(config.seed);
  std::vector<search::Genome> genomes{space->parse(config.arch)};
  std::unordered_set<std::string> seen{space->format(genomes[0])};
  while (static_cast<std::int64_t>(genomes.size()) < count + 1) {
    std::uniform_int_distribution<std::size_t> pick(0, genomes.size() - 1);
    search::Genome child = space->mutate(genomes[pick(rng)], rng);
    if (seen.insert(space->format(child)).second) genomes.push_back(std::move(child));
  }
  std::vector<std::string> archs;
  for (const auto& g : genomes) archs.push_back(space->format(g));
  return archs;
}

/// Rows of an interrupted part's `.partial` file that can be kept: the leading rows whose index
/// and architecture match `archs`. Only for parts without a cache (scratch, half), where every
/// architecture's training depends on nothing but its own seed; a transfer part restarts.
std::vector<std::string> resumable_rows(const fs::path& partial, const std::vector<std::string>& archs) {
  std::vector<std::string> rows;
  std::ifstream in(partial);
  std::string line;
  std::getline(in, line);  // header
  // A line without its newline was cut by the interruption (and so is anything after a mismatch).
  while (std::getline(in, line) && !in.eof() && rows.size() < archs.size()) {
    std::stringstream s(line);
    std::string index, arch;
    std::getline(s, index, ',');
    std::getline(s, arch, ',');
    if (index != std::to_string(rows.size()) || arch != archs[rows.size()]) break;
    rows.push_back(line);
  }
  return rows;
}

/// One part of the transfer benchmark at one training seed: "scratch" (E epochs), "half"
/// (E·fraction epochs from scratch, the control) or "transfer" (E·fraction epochs from the closest
/// cached network). `base.seed` is the training seed: initial weights, validation split, batch order.
/// An interrupted scratch or half part continues after its last complete row unless `force`.
void run_transfer_part(const std::string& part, const std::vector<std::string>& archs,
                       const train::TrainConfig& base, const train::PreparedData& data, const fs::path& file,
                       bool force) {
  // Written under a temporary name: a part's file exists only once it is complete.
  const fs::path partial = fs::path(file).concat(".partial");
  const std::vector<std::string> kept = part != "transfer" && !force && fs::exists(partial)
                                            ? resumable_rows(partial, archs)
                                            : std::vector<std::string>{};
  std::ofstream csv(partial);
  csv << "index,arch,epochs,parent,distance,transferred_fraction,validation_accuracy,seconds\n";
  for (const auto& row : kept) csv << row << '\n';
  if (!kept.empty())
    std::printf("%-8s seed %llu: kept %zu architectures of %s\n", part.c_str(),
                static_cast<unsigned long long>(base.seed), kept.size(), partial.string().c_str());
  std::optional<train::WeightCache> cache;
  if (part == "transfer") cache.emplace(std::max<std::int64_t>(1, base.transfer.cache_size));
  for (std::size_t i = kept.size(); i < archs.size(); ++i) {
    train::TrainConfig config = base;
    const train::CellSpec cell = train::parse_nb201_cell(archs[i]);
    train::Network network(train::make_network_spec(config.network, cell, data.train));
    network.initialize(config.seed);
    std::string parent;
    std::int64_t distance = -1;
    double fraction = 0;
    const bool root = i == 0;  // trained fully in every part: the first parent
    if (!root && part != "scratch") config.epochs = train::epochs_with_parent(base);
    if (cache && !root) {
      if (const auto match = cache->closest(cell, base.transfer.max_distance)) {
        const auto report = train::load_matching_weights(*match->weights, network);
        parent = match->key;
        distance = match->distance;
        fraction = static_cast<double>(report.scalars) / static_cast<double>(report.total_scalars);
      } else {
        config.epochs = base.epochs;  // no parent close enough: a full training, as the app does
      }
    }
    const auto t0 = Clock::now();
    const Curve curve = train_curve(config, network, data, 1, false);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    if (cache && train::may_become_parent(base.transfer, !parent.empty()))
      cache->insert(archs[i], cell, std::make_shared<train::NetworkWeights>(train::copy_weights(network)));
    // A diverged network ranks last: its accuracy is recorded as 0.
    const double accuracy =
        curve.diverged || curve.points.empty() ? 0.0 : curve.points.back().validation_accuracy;
    csv << i << ',' << archs[i] << ',' << config.epochs << ',' << parent << ',' << distance << ',' << fraction
        << ',' << accuracy << ',' << seconds << '\n'
        << std::flush;
    std::printf("%-8s seed %llu %2zu/%zu %s: %lld epochs%s, validation %.2f %%\n", part.c_str(),
                static_cast<unsigned long long>(base.seed), i, archs.size() - 1, archs[i].c_str(),
                static_cast<long long>(config.epochs),
                parent.empty() ? "" : (", from a parent at distance " + std::to_string(distance)).c_str(),
                accuracy);
    std::fflush(stdout);
  }
  csv.close();
  fs::rename(partial, file);
}

/// The children's validation accuracies of one part's file (the root, trained alike in every
/// part, is left out of the ranking).
std::vector<double> child_accuracies(const fs::path& file) {
  std::vector<double> out;
  const auto rows = read_csv(file);
  for (std::size_t i = 1; i < rows.size(); ++i) out.push_back(rows[i].at("validation_accuracy"));
  return out;
}

/// Accuracies of the children per training seed, for the seeds whose file of `part` exists.
using SeedRuns = std::map<std::uint64_t, std::vector<double>>;

SeedRuns part_runs(const fs::path& out, const std::string& part, std::uint64_t first_seed, std::int64_t seeds,
                   std::size_t archs) {
  SeedRuns runs;
  for (std::int64_t i = 0; i < seeds; ++i) {
    const std::uint64_t seed = first_seed + static_cast<std::uint64_t>(i);
    const fs::path file = out / (part + "-seed" + std::to_string(seed) + ".csv");
    if (!fs::exists(file)) continue;
    auto acc = child_accuracies(file);
    if (acc.size() != archs)
      throw std::runtime_error("alphax bench train: " + file.string() + " covers " +
                               std::to_string(acc.size()) + " children, not " + std::to_string(archs) +
                               "; rerun that part with --force");
    runs.emplace(seed, std::move(acc));
  }
  return runs;
}

/// Element-wise mean of the scratch runs of every seed except `skip` (none left: empty).
std::vector<double> mean_without(const SeedRuns& runs, std::uint64_t skip) {
  std::vector<double> sum;
  std::int64_t n = 0;
  for (const auto& [seed, acc] : runs) {
    if (seed == skip) continue;
    if (sum.empty()) sum.assign(acc.size(), 0.0);
    for (std::size_t k = 0; k < acc.size(); ++k) sum[k] += acc[k];
    ++n;
  }
  for (auto& v : sum) v /= static_cast<double>(n);
  return sum;
}

/// Mean Spearman of each seed's ranking in `runs` against the scratch ranking: of the same seed
/// (`same_seed`) or of the mean over the other seeds (independent runs: no shared initial weights,
/// batch order or validation split). NaN when no pair exists.
double mean_spearman(const SeedRuns& runs, const SeedRuns& scratch, bool same_seed) {
  std::vector<double> rhos;
  for (const auto& [seed, acc] : runs) {
    if (same_seed) {
      const auto it = scratch.find(seed);
      if (it != scratch.end()) rhos.push_back(spearman(acc, it->second));
    } else if (const auto reference = mean_without(scratch, seed); !reference.empty()) {
      rhos.push_back(spearman(acc, reference));
    }
  }
  return mean_of(rhos);
}

double mean_accuracy(const SeedRuns& runs) {
  std::vector<double> all;
  for (const auto& [seed, acc] : runs) all.insert(all.end(), acc.begin(), acc.end());
  return mean_of(all);
}

void compare_transfer(const BenchTrainOptions& o, const BenchInput& input) {
  const train::TrainConfig& config = input.config;
  if (config.network.skeleton != "nb201" || config.arch.empty())
    throw std::invalid_argument(
        o.config + ": the transfer benchmark needs network.skeleton nb201 and `arch:` (the first cell)");
  if (config.transfer.cache_size < 1)
    throw std::invalid_argument(o.config + ": the transfer benchmark needs transfer.cache_size >= 1");
  const std::vector<std::string> parts{"transfer", "scratch", "half"};
  if (o.part != "all" && std::find(parts.begin(), parts.end(), o.part) == parts.end())
    throw std::invalid_argument("alphax bench train: --part must be all, transfer, scratch or half");
  const fs::path out(o.out);
  fs::create_directories(out);
  set_threads(config);
  // The architectures come from `seed` alone; --seeds varies the training seed of every part.
  const auto archs = transfer_archs(config, o.transfer);
  for (const std::int64_t i : seed_indices(o)) {
    train::TrainConfig seeded = config;
    seeded.seed = config.seed + static_cast<std::uint64_t>(i);
    std::optional<train::PreparedData> data;
    for (const auto& part : parts) {
      const fs::path file = out / (part + "-seed" + std::to_string(seeded.seed) + ".csv");
      if ((o.part != "all" && o.part != part) || (fs::exists(file) && !o.force)) continue;
      if (!data) data = train::prepare_data(seeded.data, seeded.seed);
      run_transfer_part(part, archs, seeded, *data, file, o.force);
    }
  }
  const std::size_t children = archs.size() - 1;
  const SeedRuns scratch = part_runs(out, "scratch", config.seed, o.seeds, children);
  const SeedRuns moved = part_runs(out, "transfer", config.seed, o.seeds, children);
  const SeedRuns half = part_runs(out, "half", config.seed, o.seeds, children);
  if (scratch.empty()) return;  // nothing to rank against yet
  const double transfer_same = mean_spearman(moved, scratch, true);
  const double half_same = mean_spearman(half, scratch, true);
  const double transfer_other = mean_spearman(moved, scratch, false);
  const double half_other = mean_spearman(half, scratch, false);
  const double scratch_other = mean_spearman(scratch, scratch, false);
  std::ofstream csv(out / "summary.csv");
  csv << "archs,epochs_scratch,epochs_short,parents,seeds_scratch,seeds_transfer,seeds_half,"
         "spearman_transfer_vs_scratch_same_seed,spearman_half_vs_scratch_same_seed,"
         "spearman_transfer_vs_scratch_other_seeds,spearman_half_vs_scratch_other_seeds,"
         "spearman_scratch_vs_scratch_other_seeds,accuracy_scratch_mean,accuracy_transfer_mean,"
         "accuracy_half_mean\n";
  csv << children << ',' << config.epochs << ',' << train::epochs_with_parent(config) << ','
      << config.transfer.parents << ',' << scratch.size() << ',' << moved.size() << ',' << half.size() << ','
      << transfer_same << ',' << half_same << ',' << transfer_other << ',' << half_other << ','
      << scratch_other << ',' << mean_accuracy(scratch) << ',' << mean_accuracy(moved) << ','
      << mean_accuracy(half) << '\n';
  const auto e_short = static_cast<long long>(train::epochs_with_parent(config));
  const auto e_full = static_cast<long long>(config.epochs);
  std::printf("%zu children, Spearman against %lld epochs from scratch (same seed | other seeds):\n",
              children, e_full);
  std::printf("  %lld epochs with transfer (parents: %-7s)  %.3f | %.3f\n", e_short,
              config.transfer.parents.c_str(), transfer_same, transfer_other);
  std::printf("  %lld epochs from scratch                       %.3f | %.3f\n", e_short, half_same,
              half_other);
  std::printf("  %lld epochs from scratch (reproducibility)          - | %.3f\n", e_full, scratch_other);
}

void plot(const BenchTrainOptions& o) {
  if (o.plot_script.empty()) return;
  if (!fs::exists(o.plot_script)) {
    std::cerr << "note: plot script '" << o.plot_script
              << "' not found; no PNG written (run from the repository root)\n";
    return;
  }
  const std::string command = "/usr/bin/python3 '" + o.plot_script + "' '" + o.out + "'";
  if (std::system(command.c_str()) != 0)
    std::cerr << "note: plotting failed (" << command << "); the CSV files are complete\n";
}

void run_bench_train(const BenchTrainOptions& o) {
  const BenchInput input = load_input(o.config);
  const auto is_rule = [](const std::string& s) { return s == "none" || s == "linear" || s == "legw"; };
  if (o.transfer > 0) {
    compare_transfer(o, input);
  } else if (!o.compare.empty() && std::all_of(o.compare.begin(), o.compare.end(), is_rule)) {
    compare_scaling(o, input);
  } else if (!o.compare.empty()) {
    compare_optimizers(o, input);
  } else {
    throw std::invalid_argument(
        "alphax bench train: give --compare sgd,isgd, --compare linear,legw --batches ..., "
        "or --transfer N");
  }
  plot(o);
}

}  // namespace

void add_bench_train_command(CLI::App& bench, CommandContext& context) {
  auto options = std::make_shared<BenchTrainOptions>();
  CLI::App* cmd = bench.add_subcommand(
      "train",
      "Training benchmarks: SGD vs ISGD time to a target accuracy, LEGW vs linear scaling, weight transfer");
  cmd->add_option("config", options->config,
                  "YAML training config with a `bench:` block (inputs/isgd-bench.yaml, ...)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--compare", options->compare,
                  "Variants: optimizer names (sgd,isgd) or learning-rate scaling rules (none,linear,legw)")
      ->delimiter(',');
  cmd->add_option("--seeds", options->seeds,
                  "Seeds per variant (the config's seed, +1, ...); transfer: training seeds of every part")
      ->capture_default_str();
  cmd->add_option("--only-seed", options->only_seed,
                  "Run only the k-th seed (1-based) of the set; the summary covers every run found in --out");
  cmd->add_option("--batches", options->batches, "Global batch sizes (scaling comparison), e.g. 128,512,2048")
      ->delimiter(',');
  cmd->add_option("--transfer", options->transfer,
                  "Weight-transfer ranking over N child architectures (transfer at fewer epochs vs scratch)");
  cmd->add_option("--part", options->part, "Transfer benchmark part: all, transfer, scratch or half")
      ->capture_default_str();
  cmd->add_option("--out", options->out, "Output directory")->capture_default_str();
  cmd->add_option("--plot-script", options->plot_script, "Python script that draws the PNG ('' to skip)")
      ->capture_default_str();
  cmd->add_flag("--force", options->force, "Rerun runs whose results already exist in --out");
  cmd->callback([options, &context] {
    run_bench_train(*options);
    context.exit_code = 0;
  });
}

}  // namespace alphax::app
