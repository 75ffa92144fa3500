// Placeholder until this command family is implemented; registers nothing yet.
#include "alphax/commands.hpp"

namespace alphax::app {

void add_train_command(CLI::App& /*app*/, CommandContext& /*context*/) {}

}  // namespace alphax::app
