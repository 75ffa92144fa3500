// StopSignalGuard: the handler records SIGUSR1/SIGTERM instead of killing the process, and a
// signal recorded by main()'s early guard (during MPI start-up) survives into the job's guard.
#include <gtest/gtest.h>

#include <csignal>

#include "alphax/stop_signal.hpp"

namespace alphax::app {
namespace {

TEST(StopSignal, GuardRecordsTheSignalInsteadOfDying) {
  StopSignalGuard guard;
  EXPECT_EQ(stop_signal_received(), 0);
  std::raise(SIGUSR1);
  EXPECT_EQ(stop_signal_received(), SIGUSR1);
}

TEST(StopSignal, InnerGuardKeepsASignalTheOuterOneRecorded) {
  StopSignalGuard early;  // main(), before MPI_Init
  std::raise(SIGTERM);
  {
    StopSignalGuard job;  // run_search_job()
    EXPECT_EQ(stop_signal_received(), SIGTERM);
  }
  EXPECT_EQ(stop_signal_received(), SIGTERM);
}

TEST(StopSignal, OutermostGuardStartsClean) {
  {
    StopSignalGuard first;
    std::raise(SIGUSR1);
  }
  StopSignalGuard second;
  EXPECT_EQ(stop_signal_received(), 0);
}

}  // namespace
}  // namespace alphax::app
