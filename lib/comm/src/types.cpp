#include "alphax/comm/types.hpp"

#include <stdexcept>
#include <string>

namespace alphax::comm {

std::string_view to_string(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::automatic:
      return "auto";
    case Algorithm::lp:
      return "lp";
    case Algorithm::ring:
      return "ring";
    case Algorithm::mpi:
      return "mpi";
    case Algorithm::nccl:
      return "nccl";
  }
  return "?";
}

std::string_view to_string(Transport transport) {
  switch (transport) {
    case Transport::automatic:
      return "auto";
    case Transport::point_to_point:
      return "p2p";
    case Transport::shared_memory:
      return "shm";
  }
  return "?";
}

std::string_view to_string(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return "sum";
    case ReduceOp::max:
      return "max";
    case ReduceOp::min:
      return "min";
  }
  return "?";
}

std::string_view to_string(Collective collective) {
  switch (collective) {
    case Collective::broadcast:
      return "bcast";
    case Collective::reduce:
      return "reduce";
    case Collective::allreduce:
      return "allreduce";
  }
  return "?";
}

Algorithm parse_algorithm(std::string_view name) {
  if (name == "auto" || name == "automatic") return Algorithm::automatic;
  if (name == "lp") return Algorithm::lp;
  if (name == "ring") return Algorithm::ring;
  if (name == "mpi") return Algorithm::mpi;
  if (name == "nccl") return Algorithm::nccl;
  throw std::invalid_argument("alphax::comm::parse_algorithm: unknown algorithm '" + std::string(name) +
                              "'; use one of auto, lp, ring, mpi, nccl");
}

Transport parse_transport(std::string_view name) {
  if (name == "auto" || name == "automatic") return Transport::automatic;
  if (name == "p2p" || name == "point_to_point") return Transport::point_to_point;
  if (name == "shm" || name == "shared_memory") return Transport::shared_memory;
  throw std::invalid_argument("alphax::comm::parse_transport: unknown transport '" + std::string(name) +
                              "'; use one of auto, p2p, shm");
}

Collective parse_collective(std::string_view name) {
  if (name == "bcast" || name == "broadcast") return Collective::broadcast;
  if (name == "reduce") return Collective::reduce;
  if (name == "allreduce") return Collective::allreduce;
  throw std::invalid_argument("alphax::comm::parse_collective: unknown operation '" + std::string(name) +
                              "'; use one of bcast, reduce, allreduce");
}

}  // namespace alphax::comm
