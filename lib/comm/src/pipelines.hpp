#pragma once
// The LP chain and the pipelined ring: private engines behind MpiCommunicator, written once over
// the Links interface (MPI point-to-point or shared-memory rings).
#include <cstddef>

#include "alphax/comm/types.hpp"
#include "links.hpp"

namespace alphax::comm::detail {

/// This rank's place: rank and number of ranks.
struct Place {
  int rank;
  int size;
};

/// LP broadcast of `count` elements from `root` along the chain v = (rank − root + P) mod P.
void lp_broadcast(const Place& place, Links& links, void* data, std::size_t count, DataType type, int root,
                  std::size_t block_bytes);
/// LP reduce towards `root`; `recv` is written at the root only (may equal `send` there).
void lp_reduce(const Place& place, Links& links, const void* send, void* recv, std::size_t count,
               DataType type, ReduceOp op, int root, std::size_t block_bytes);
/// LP allreduce: LP reduce towards rank 0 overlapped with LP broadcast back (send may equal recv).
void lp_allreduce(const Place& place, Links& links, const void* send, void* recv, std::size_t count,
                  DataType type, ReduceOp op, std::size_t block_bytes);
/// Pipelined ring allreduce: reduce-scatter then allgather, segments of ≤ block_bytes (send may
/// equal recv).
void ring_allreduce(const Place& place, Links& links, const void* send, void* recv, std::size_t count,
                    DataType type, ReduceOp op, std::size_t block_bytes);

}  // namespace alphax::comm::detail
