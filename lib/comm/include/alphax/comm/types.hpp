#pragma once
/// \file
/// \brief Vocabulary of lib/comm: algorithms, reduction operators, element types, the α-β link model.
#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

namespace alphax::comm {

/// \brief Which implementation a collective uses.
enum class Algorithm {
  automatic,  ///< chosen per call from P, n, α and β (see docs/comm.md, choose_algorithm)
  lp,         ///< Linear Pipelining: a chain from the root, blocks of b bytes
  ring,       ///< pipelined ring reduce-scatter + allgather (allreduce only)
  mpi,        ///< the MPI library's own collective
  nccl,       ///< NCCL on device buffers (only when built with ALPHAX_ENABLE_NCCL)
};

/// \brief How the lp and ring pipelines move their blocks between neighbouring ranks.
enum class Transport {
  automatic,       ///< shared_memory when every rank is on one node and MPI can make a shared window, else p2p
  point_to_point,  ///< MPI_Isend / MPI_Irecv (any network; the only choice across nodes)
  shared_memory,   ///< single-producer rings of cache-sized slots in an MPI-3 shared window (one node)
};

/// \brief The reduction operator of reduce and allreduce.
enum class ReduceOp { sum, max, min };

/// \brief The element types the collectives move.
enum class DataType { float32, float64 };

/// \brief The three collectives (used by the chooser and the benchmark).
enum class Collective { broadcast, reduce, allreduce };

/// \brief Element types accepted by the typed collective calls.
template <class T>
concept CommElement = std::is_same_v<T, float> || std::is_same_v<T, double>;

/// \brief The DataType tag of a CommElement.
template <CommElement T>
constexpr DataType data_type_of() {
  return std::is_same_v<T, float> ? DataType::float32 : DataType::float64;
}

/// \brief Bytes per element of `type`.
constexpr std::size_t size_of(DataType type) { return type == DataType::float32 ? 4 : 8; }

/// \brief Hockney's α-β model of one point-to-point message: time(n bytes) = α + n·β.
struct LinkModel {
  double alpha_s = 0.0;          ///< latency per message, seconds
  double beta_s_per_byte = 0.0;  ///< inverse bandwidth, seconds per byte
};

/// \brief Name of an algorithm as used on command lines and in CSV files ("lp", "auto", ...).
std::string_view to_string(Algorithm algorithm);
/// \brief Name of a transport ("auto", "p2p", "shm").
std::string_view to_string(Transport transport);
/// \brief Name of a reduction operator ("sum", "max", "min").
std::string_view to_string(ReduceOp op);
/// \brief Name of a collective ("bcast", "reduce", "allreduce").
std::string_view to_string(Collective collective);
/// \brief Parses "auto"/"automatic", "lp", "ring", "mpi", "nccl"; throws std::invalid_argument otherwise.
Algorithm parse_algorithm(std::string_view name);
/// \brief Parses "auto", "p2p", "shm"; throws std::invalid_argument otherwise.
Transport parse_transport(std::string_view name);
/// \brief Parses "bcast"/"broadcast", "reduce", "allreduce"; throws std::invalid_argument otherwise.
Collective parse_collective(std::string_view name);

}  // namespace alphax::comm
