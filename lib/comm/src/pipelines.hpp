#pragma once
// The LP chain and the pipelined ring: private engines behind MpiCommunicator.
#include <mpi.h>

#include <cstddef>
#include <vector>

#include "alphax/comm/types.hpp"

namespace alphax::comm::detail {

/// Number of blocks in flight per direction (receive slots and send entries).
inline constexpr int kPipelineDepth = 4;

/// Scratch owned by one communicator and reused by every call: 2·depth cache-sized block buffers
/// and the request array. Allocated once in the constructor.
class PipelineScratch {
 public:
  PipelineScratch();
  std::byte* recv_slot(int i) { return base_ + static_cast<std::size_t>(i) * slot_bytes_; }
  std::byte* send_slot(int i) { return base_ + static_cast<std::size_t>(kPipelineDepth + i) * slot_bytes_; }
  std::size_t slot_bytes() const { return slot_bytes_; }
  MPI_Request* requests() { return requests_.data(); }
  int* indices() { return indices_.data(); }

 private:
  std::size_t slot_bytes_;
  std::vector<std::byte> storage_;
  std::byte* base_ = nullptr;
  std::vector<MPI_Request> requests_;
  std::vector<int> indices_;
};

/// Where a collective runs: the communicator, this rank, the size.
struct Group {
  MPI_Comm comm;
  int rank;
  int size;
};

/// LP broadcast of `count` elements from `root` along the chain v = (rank − root + P) mod P.
void lp_broadcast(const Group& group, void* data, std::size_t count, DataType type, int root,
                  std::size_t block_bytes, PipelineScratch& scratch);
/// LP reduce towards `root`; `recv` is written at the root only (may equal `send` there).
void lp_reduce(const Group& group, const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
               int root, std::size_t block_bytes, PipelineScratch& scratch);
/// LP allreduce: LP reduce towards rank 0 overlapped with LP broadcast back (send may equal recv).
void lp_allreduce(const Group& group, const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                  std::size_t block_bytes, PipelineScratch& scratch);
/// Pipelined ring allreduce: reduce-scatter then allgather, segments of ≤ block_bytes (send may
/// equal recv).
void ring_allreduce(const Group& group, const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                    std::size_t block_bytes, PipelineScratch& scratch);

}  // namespace alphax::comm::detail
