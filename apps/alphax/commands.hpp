#pragma once
/// \file
/// \brief The command families of the alphax executable; each lives in its own cmd_*.cpp.
#include <CLI/CLI.hpp>

namespace alphax::app {

/// \brief What a command reports back to main(): its process exit code.
struct CommandContext {
  int exit_code = 0;
};

/// \brief `alphax train`: train one architecture on real data (cmd_train.cpp).
void add_train_command(CLI::App& app, CommandContext& context);
/// \brief `alphax run` and `alphax validate`: the SPMD search job (cmd_run.cpp).
void add_run_commands(CLI::App& app, CommandContext& context);
/// \brief `alphax bench comm` (cmd_bench_comm.cpp).
void add_bench_comm_command(CLI::App& bench, CommandContext& context);
/// \brief `alphax bench search` (cmd_bench_search.cpp).
void add_bench_search_command(CLI::App& bench, CommandContext& context);
/// \brief `alphax bench master` (cmd_bench_master.cpp).
void add_bench_master_command(CLI::App& bench, CommandContext& context);
/// \brief `alphax bench train` (cmd_bench_train.cpp).
void add_bench_train_command(CLI::App& bench, CommandContext& context);

}  // namespace alphax::app
