#pragma once
/// \file
/// \brief SIGUSR1 / SIGTERM handling: the handler only records the signal; the master acts on it.
#include <signal.h>

namespace alphax::app {

/// \brief Exit code of every rank after a checkpoint-and-stop (signal or wall-time budget):
/// "checkpointed, please requeue". The job scripts requeue on it.
inline constexpr int kExitRequeue = 85;
/// \brief Exit code for a configuration rejected before any work.
inline constexpr int kExitConfig = 2;

/// \brief Installs handlers for SIGUSR1 and SIGTERM that set a flag; restores the previous ones
/// on destruction (RAII). Guards nest: the outermost clears the flag, inner ones keep a signal
/// that an outer guard already recorded.
class StopSignalGuard {
 public:
  StopSignalGuard();
  ~StopSignalGuard();
  StopSignalGuard(const StopSignalGuard&) = delete;
  StopSignalGuard& operator=(const StopSignalGuard&) = delete;

 private:
  struct sigaction previous_usr1_ {};
  struct sigaction previous_term_ {};
};

/// \brief The number of the signal received since the guard was installed (0: none).
int stop_signal_received();

}  // namespace alphax::app
