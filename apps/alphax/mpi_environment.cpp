#include "alphax/mpi_environment.hpp"

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace alphax::app {

MpiEnvironment::MpiEnvironment(int& argc, char**& argv) {
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    throw std::runtime_error("alphax: MPI_Init_thread failed; is the MPI installation usable (try `mpirun -np 1 hostname`)?");
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
}

MpiEnvironment::~MpiEnvironment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void MpiEnvironment::abort(std::string_view message, int code) const {
  std::string line = "alphax: error";
  if (size_ > 1) line += " (rank " + std::to_string(rank_) + ")";
  line += ": ";
  line += message;
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
  if (size_ > 1) MPI_Abort(MPI_COMM_WORLD, code);
  MPI_Finalize();
  std::exit(code);
}

}  // namespace alphax::app
