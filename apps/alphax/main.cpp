// The alphax executable: one SPMD binary. main() owns MPI, the command line and the last line of
// error handling; everything else lives in the command files (see commands.hpp).
#include <CLI/CLI.hpp>

#include <exception>

#include "alphax/commands.hpp"
#include "alphax/mpi_environment.hpp"

int main(int argc, char** argv) {
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
