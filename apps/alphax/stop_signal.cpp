#include "alphax/stop_signal.hpp"

#include <csignal>

namespace alphax::app {
namespace {

// The one piece of process-wide state a signal handler may touch.
volatile std::sig_atomic_t g_stop_signal = 0;
// Guards alive in this process: only the outermost one starts with a clean flag, so a signal
// recorded by main()'s early guard survives into the job's own guard.
int g_guard_depth = 0;

extern "C" void record_stop_signal(int signal_number) { g_stop_signal = signal_number; }

}  // namespace

StopSignalGuard::StopSignalGuard() {
  if (g_guard_depth++ == 0) g_stop_signal = 0;
  struct sigaction action {};
  action.sa_handler = record_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  sigaction(SIGUSR1, &action, &previous_usr1_);
  sigaction(SIGTERM, &action, &previous_term_);
}

StopSignalGuard::~StopSignalGuard() {
  sigaction(SIGUSR1, &previous_usr1_, nullptr);
  sigaction(SIGTERM, &previous_term_, nullptr);
  --g_guard_depth;
}

int stop_signal_received() { return static_cast<int>(g_stop_signal); }

}  // namespace alphax::app
