// `alphax run` and `alphax validate`.
#include <mpi.h>

#include <memory>

#include "alphax/commands.hpp"
#include "alphax/job.hpp"

namespace alphax::app {

void add_run_commands(CLI::App& app, CommandContext& context) {
  auto request = std::make_shared<RunRequest>();
  auto output = std::make_shared<std::string>();
  CLI::App* run = app.add_subcommand("run", "Run a search: rank 0 searches, ranks 1..N-1 evaluate in trainer groups");
  run->add_option("config", request->config_file, "YAML configuration (docs/config.md)")->required()->check(CLI::ExistingFile);
  run->add_option("--output,-o", *output, "Output directory (overrides run.output)");
  run->add_option("--set", request->overrides, "Override a config value: --set key.path=value (repeatable)")
      ->take_all()
      ->allow_extra_args(false);
  run->add_flag("--restart", request->restart, "Resume from the checkpoint in the output directory (it must exist)");
  run->callback([request, output, &context] {
    if (!output->empty()) request->output = *output;
    context.exit_code = run_search_job(*request, MPI_COMM_WORLD);
  });

  auto ranks = std::make_shared<int>(1);
  auto check = std::make_shared<RunRequest>();
  CLI::App* validate = app.add_subcommand("validate", "Check a configuration and a rank layout without running");
  validate->add_option("config", check->config_file, "YAML configuration")->required()->check(CLI::ExistingFile);
  validate->add_option("--ranks,-n", *ranks, "Number of MPI ranks the job will run with")->check(CLI::PositiveNumber);
  validate->add_option("--set", check->overrides, "Override a config value: --set key.path=value (repeatable)")
      ->take_all();
  validate->callback([check, ranks, &context] {
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    context.exit_code = rank == 0 ? validate_config(*check, *ranks) : 0;
  });
}

}  // namespace alphax::app
