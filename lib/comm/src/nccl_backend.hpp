#pragma once
// NCCL on device buffers, bootstrapped over MPI. Compiled to real calls only with
// ALPHAX_HAVE_NCCL; otherwise every entry point throws a clear error.
#include <mpi.h>

#include <cstddef>
#include <memory>

#include "alphax/comm/types.hpp"

#if defined(ALPHAX_HAVE_NCCL)
#include <cuda_runtime.h>
#include <nccl.h>
#endif

namespace alphax::comm::detail {

#if defined(ALPHAX_HAVE_NCCL)
/// Owns one NCCL communicator and the stream its collectives run on; every call synchronises the
/// stream before returning, so the host sees finished buffers as with the CPU algorithms.
class NcclContext {
 public:
  NcclContext(MPI_Comm mpi_comm, int rank, int size);
  ~NcclContext();
  NcclContext(const NcclContext&) = delete;
  NcclContext& operator=(const NcclContext&) = delete;
  ncclComm_t comm() const { return comm_; }
  cudaStream_t stream() const { return stream_; }
  void synchronize() const;

 private:
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
};
#else
/// Placeholder in builds without NCCL: make_nccl_context throws before one exists.
class NcclContext {};
#endif
using NcclContextPtr = std::unique_ptr<NcclContext>;

/// Collective over `comm`: rank 0 creates the NCCL unique id, MPI broadcasts it, every rank joins.
NcclContextPtr make_nccl_context(MPI_Comm comm, int rank, int size);
void nccl_broadcast(NcclContext& context, void* data, std::size_t count, DataType type, int root);
void nccl_reduce(NcclContext& context, const void* send, void* recv, std::size_t count, DataType type,
                 ReduceOp op, int root);
void nccl_allreduce(NcclContext& context, const void* send, void* recv, std::size_t count, DataType type,
                    ReduceOp op);

}  // namespace alphax::comm::detail
