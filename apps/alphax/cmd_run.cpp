// Placeholder until this command family is implemented; registers nothing yet.
#include "alphax/commands.hpp"

namespace alphax::app {

void add_run_commands(CLI::App& /*app*/, CommandContext& /*context*/) {}

}  // namespace alphax::app
