// Placeholder until this command family is implemented; registers nothing yet.
#include "alphax/commands.hpp"

namespace alphax::app {

void add_bench_comm_command(CLI::App& /*bench*/, CommandContext& /*context*/) {}

}  // namespace alphax::app
