#include "alphax/search/search_space.hpp"

namespace alphax::search {

std::vector<Genome> SearchSpace::neighbours(const Genome& genome) const {
  std::vector<Genome> result;
  Genome partial = genome;
  for (std::size_t p = 0; p < genome.size(); ++p) {
    partial[p] = kUndecided;
    for (const auto& action : actions(partial)) {
      if (action.value == genome[p]) continue;
      Genome next = apply(partial, action);
      if (is_terminal(next) && is_valid(next)) result.push_back(std::move(next));
    }
    partial[p] = genome[p];
  }
  return result;
}

}  // namespace alphax::search
