// Stand-alone driver of `alphax bench comm` (see CMakeLists.txt next to this file).
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>

#include "alphax/commands.hpp"

int main(int argc, char** argv) {
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  alphax::app::CommandContext context;
  CLI::App app{"alphax-bench-comm: lib/comm collectives against MPI's (same options as `alphax bench comm`)"};
  app.require_subcommand(1);
  int code = 0;
  try {
    alphax::app::add_bench_comm_command(app, context);
    app.parse(argc, argv);
    code = context.exit_code;
  } catch (const CLI::ParseError& e) {
    code = rank == 0 ? app.exit(e) : e.get_exit_code();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "alphax-bench-comm: error (rank %d): %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return code;
}
