// The alphax executable: one SPMD binary. main() owns MPI, the command line and the last line of
// error handling; everything else lives in the command files (see commands.hpp).
#include <CLI/CLI.hpp>

#include <exception>
#include <optional>
#include <string_view>

#include "alphax/commands.hpp"
#include "alphax/mpi_environment.hpp"
#include "alphax/stop_signal.hpp"

int main(int argc, char** argv) {
  // A job script can forward its warning signal while the ranks are still starting (Slurm's
  // signal timer is coarse; MPI_Init takes seconds on a loaded node): from here on a SIGUSR1 or
  // SIGTERM to `alphax run` is recorded, and the job checkpoints and exits 85 at its first safe
  // point, instead of the default action killing the rank. Other commands keep the defaults.
  std::optional<alphax::app::StopSignalGuard> early_signals;
  if (argc > 1 && std::string_view(argv[1]) == "run") early_signals.emplace();
  alphax::app::MpiEnvironment mpi(argc, argv);
  alphax::app::CommandContext context;
  CLI::App app{"alphax: neural architecture search on supercomputers (AlphaX MCTS, LaNAS, LP collectives, ISGD)",
               "alphax"};
  app.set_version_flag("--version", std::string("alphax ") + ALPHAX_VERSION);
  app.require_subcommand(1);
  try {
    alphax::app::add_run_commands(app, context);
    alphax::app::add_train_command(app, context);
    CLI::App* bench = app.add_subcommand("bench", "Benchmarks: comm, search, master, train");
    bench->require_subcommand(1);
    alphax::app::add_bench_comm_command(*bench, context);
    alphax::app::add_bench_search_command(*bench, context);
    alphax::app::add_bench_master_command(*bench, context);
    alphax::app::add_bench_train_command(*bench, context);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with exit code 0; print them from rank 0 only.
    const int code = mpi.world_rank() == 0 ? app.exit(e) : e.get_exit_code();
    return code;
  } catch (const std::exception& e) {
    mpi.abort(e.what(), 1);
  }
  return context.exit_code;
}
