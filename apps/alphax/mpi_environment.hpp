#pragma once
/// \file
/// \brief RAII owner of MPI_Init_thread / MPI_Finalize for the executable.
#include <mpi.h>

#include <string_view>

namespace alphax::app {

/// \brief Initialises MPI (funneled: OpenMP threads never call MPI) and finalises it on scope exit.
class MpiEnvironment {
 public:
  MpiEnvironment(int& argc, char**& argv);
  ~MpiEnvironment();
  MpiEnvironment(const MpiEnvironment&) = delete;
  MpiEnvironment& operator=(const MpiEnvironment&) = delete;

  int world_rank() const { return rank_; }
  int world_size() const { return size_; }
  /// \brief Prints `message` once (from this rank) and aborts the whole job with `code`.
  [[noreturn]] void abort(std::string_view message, int code) const;

 private:
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace alphax::app
