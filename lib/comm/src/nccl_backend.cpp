#include "nccl_backend.hpp"

#include <stdexcept>
#include <string>

namespace alphax::comm::detail {

#if defined(ALPHAX_HAVE_NCCL)
namespace {

void check_cuda(cudaError_t rc, const char* call) {
  if (rc != cudaSuccess)
    throw std::runtime_error(std::string("alphax::comm nccl: ") + call +
                             " failed: " + cudaGetErrorString(rc) +
                             "; is a GPU visible to this rank (CUDA_VISIBLE_DEVICES)?");
}

void check_nccl(ncclResult_t rc, const char* call) {
  if (rc != ncclSuccess)
    throw std::runtime_error(std::string("alphax::comm nccl: ") + call +
                             " failed: " + ncclGetErrorString(rc) + "; run with NCCL_DEBUG=INFO for details");
}

ncclDataType_t nccl_type(DataType type) { return type == DataType::float32 ? ncclFloat32 : ncclFloat64; }

ncclRedOp_t nccl_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return ncclSum;
    case ReduceOp::max:
      return ncclMax;
    case ReduceOp::min:
      return ncclMin;
  }
  return ncclSum;
}

}  // namespace

NcclContext::NcclContext(MPI_Comm mpi_comm, int rank, int size) {
  ncclUniqueId id{};
  if (rank == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  if (MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, mpi_comm) != MPI_SUCCESS)
    throw std::runtime_error("alphax::comm nccl: MPI_Bcast of the NCCL unique id failed");
  check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
  const ncclResult_t rc = ncclCommInitRank(&comm_, size, id, rank);
  if (rc != ncclSuccess) {
    cudaStreamDestroy(stream_);
    check_nccl(rc, "ncclCommInitRank");
  }
}

NcclContext::~NcclContext() {
  if (comm_ != nullptr) ncclCommDestroy(comm_);
  if (stream_ != nullptr) cudaStreamDestroy(stream_);
}

void NcclContext::synchronize() const { check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

NcclContextPtr make_nccl_context(MPI_Comm comm, int rank, int size) {
  return std::make_unique<NcclContext>(comm, rank, size);
}

void nccl_broadcast(NcclContext& context, void* data, std::size_t count, DataType type, int root) {
  check_nccl(ncclBroadcast(data, data, count, nccl_type(type), root, context.comm(), context.stream()),
             "ncclBroadcast");
  context.synchronize();
}

void nccl_reduce(NcclContext& context, const void* send, void* recv, std::size_t count, DataType type,
                 ReduceOp op, int root) {
  check_nccl(
      ncclReduce(send, recv, count, nccl_type(type), nccl_op(op), root, context.comm(), context.stream()),
      "ncclReduce");
  context.synchronize();
}

void nccl_allreduce(NcclContext& context, const void* send, void* recv, std::size_t count, DataType type,
                    ReduceOp op) {
  check_nccl(ncclAllReduce(send, recv, count, nccl_type(type), nccl_op(op), context.comm(), context.stream()),
             "ncclAllReduce");
  context.synchronize();
}

#else  // built without NCCL

namespace {
[[noreturn]] void no_nccl() {
  throw std::invalid_argument(
      "alphax::comm: algorithm 'nccl' is not available: this build has no NCCL; configure with `cmake "
      "--preset cuda` "
      "(ALPHAX_ENABLE_CUDA=ON, ALPHAX_ENABLE_NCCL=ON) or use lp, ring, mpi or auto");
}
}  // namespace

NcclContextPtr make_nccl_context(MPI_Comm /*comm*/, int /*rank*/, int /*size*/) { no_nccl(); }
void nccl_broadcast(NcclContext&, void*, std::size_t, DataType, int) { no_nccl(); }
void nccl_reduce(NcclContext&, const void*, void*, std::size_t, DataType, ReduceOp, int) { no_nccl(); }
void nccl_allreduce(NcclContext&, const void*, void*, std::size_t, DataType, ReduceOp) { no_nccl(); }

#endif

}  // namespace alphax::comm::detail
