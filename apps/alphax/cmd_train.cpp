// `alphax train`: train one architecture on real data and print its accuracy.
#include <mpi.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "alphax/comm/communicator.hpp"
#include "alphax/commands.hpp"
#include "alphax/train/config.hpp"
#include "alphax/train/trainer.hpp"

namespace alphax::app {
namespace {

struct TrainOptions {
  std::string config;
  std::optional<std::string> arch, data_dir, data_set, skeleton, schedule, optimizer;
  bool sync_batch_norm = false;
  std::optional<std::int64_t> epochs, train_subset, validation, test_subset, batch;
  std::optional<double> lr;
  std::optional<std::uint64_t> seed;
  std::optional<int> threads, channels, cells_per_stage;
};

train::TrainConfig resolve(const TrainOptions& o) {
  train::TrainConfig c = o.config.empty() ? train::TrainConfig{} : train::load_train_config(o.config);
  if (o.arch) c.arch = *o.arch;
  if (o.data_dir) c.data.dir = *o.data_dir;
  if (o.data_set) c.data.set = *o.data_set;
  if (o.skeleton) c.network.skeleton = *o.skeleton;
  if (o.schedule) c.schedule.name = *o.schedule;
  if (o.optimizer) c.optimizer.name = *o.optimizer;
  if (o.sync_batch_norm) c.parallel.sync_batch_norm = true;
  if (o.epochs) c.epochs = *o.epochs;
  if (o.train_subset) c.data.train_subset = *o.train_subset;
  if (o.validation) c.data.validation = *o.validation;
  if (o.test_subset) c.data.test_subset = *o.test_subset;
  if (o.batch) c.batch = *o.batch;
  if (o.lr) c.optimizer.lr = *o.lr;
  if (o.seed) c.seed = *o.seed;
  if (o.threads) c.threads = *o.threads;
  if (o.channels) c.network.channels = *o.channels;
  if (o.cells_per_stage) c.network.cells_per_stage = *o.cells_per_stage;
  if (c.schedule.warmup_epochs > static_cast<double>(c.epochs)) c.schedule.warmup_epochs = static_cast<double>(c.epochs);
  train::validate_train_config(c);
  if (c.network.skeleton == "nb201" && c.arch.empty()) {
    throw std::invalid_argument("alphax train: no architecture; give --arch '<NB201 cell string>' or `arch:` in --config");
  }
  return c;
}

std::string with_commas(std::int64_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

int run_train(const TrainOptions& options) {
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const bool print = rank == 0;
  // Under mpirun -np G every rank is one replica of a data-parallel group over the world.
  std::unique_ptr<comm::MpiCommunicator> group;
  if (size > 1) group = std::make_unique<comm::MpiCommunicator>(MPI_COMM_WORLD);
  const train::TrainConfig config = resolve(options);
  const train::CellSpec cell = config.network.skeleton == "nb201" ? train::parse_nb201_cell(config.arch)
                                                                   : train::CellSpec{};
  if (print) {
    std::printf("alphax train: %s, %s%s, %lld epochs, global batch %lld on %d rank(s), %s images (validation %lld), seed %llu\n",
                config.network.skeleton.c_str(), config.network.skeleton == "nb201" ? "cell " : "",
                config.network.skeleton == "nb201" ? config.arch.c_str() : "plain CNN",
                static_cast<long long>(config.epochs), static_cast<long long>(config.batch), size,
                config.data.train_subset > 0 ? with_commas(config.data.train_subset).c_str() : "all",
                static_cast<long long>(config.data.validation), static_cast<unsigned long long>(config.seed));
    std::fflush(stdout);
  }
  const auto result = train::train_network(
      config, cell,
      [&](const train::EpochReport& r) {
        if (!print) return;
        std::printf("epoch %lld/%lld  train loss %.4f  val accuracy %.2f %%  lr %.4f  %.1f s", static_cast<long long>(r.epoch),
                    static_cast<long long>(config.epochs), r.train_loss, r.validation_accuracy, r.lr, r.seconds);
        if (config.optimizer.name == "isgd")
          std::printf("  isgd: %lld batches over the limit, %lld extra steps", static_cast<long long>(r.isgd_batches),
                      static_cast<long long>(r.isgd_extra_steps));
        std::printf("\n");
        std::fflush(stdout);
      },
      group.get());
  if (print) {
    if (result.status != train::TrainStatus::kOk) {
      std::printf("status %s (the loss or the weights became NaN/inf; lower --lr)\n", train::to_string(result.status));
    } else {
      std::printf("test accuracy %.2f %%\n", result.test_accuracy);
    }
    std::printf("parameters %s\n", with_commas(result.parameters).c_str());
    std::printf("FLOPs %.2f M per image (forward)\n", static_cast<double>(result.flops) / 1e6);
    std::printf("seconds %.1f\n", result.seconds);
  }
  return result.status == train::TrainStatus::kOk ? 0 : 3;
}

}  // namespace

void add_train_command(CLI::App& app, CommandContext& context) {
  auto options = std::make_shared<TrainOptions>();
  CLI::App* cmd = app.add_subcommand(
      "train", "Train one architecture on real data and print its test accuracy (mpirun -np G: data-parallel)");
  cmd->add_option("--config", options->config, "YAML training config (e.g. inputs/train-fashion.yaml)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--arch", options->arch, "NAS-Bench-201 cell string, e.g. '|nor_conv_3x3~0|+|...|'");
  cmd->add_option("--epochs", options->epochs, "Epochs");
  cmd->add_option("--train-subset", options->train_subset, "Training images used (0 = all)");
  cmd->add_option("--validation", options->validation, "Images held out from the training set for validation");
  cmd->add_option("--test-subset", options->test_subset, "Test images evaluated (0 = all)");
  cmd->add_option("--batch", options->batch, "Batch size");
  cmd->add_option("--lr", options->lr, "Peak learning rate");
  cmd->add_option("--seed", options->seed, "Seed of the split, the initial weights and the shuffling");
  cmd->add_option("--data-dir", options->data_dir, "Data directory (default /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--data-set", options->data_set, "fashion-mnist, mnist or cifar10");
  cmd->add_option("--threads", options->threads, "OpenMP threads");
  cmd->add_option("--skeleton", options->skeleton, "nb201 or plain");
  cmd->add_option("--channels", options->channels, "C, the channels of the first stage");
  cmd->add_option("--cells-per-stage", options->cells_per_stage, "N, cells per stage (nb201)");
  cmd->add_option("--schedule", options->schedule, "cosine, step or constant");
  cmd->add_option("--optimizer", options->optimizer, "sgd or isgd (ISGD settings from --config)");
  cmd->add_flag("--sync-batch-norm", options->sync_batch_norm,
                "Under mpirun: batch-norm statistics over the whole global batch (G ranks train like one)");
  cmd->callback([options, &context] { context.exit_code = run_train(*options); });
}

}  // namespace alphax::app
