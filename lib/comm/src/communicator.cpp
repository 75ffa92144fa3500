#include "alphax/comm/communicator.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>

#include "alphax/comm/cost_model.hpp"

namespace alphax::comm {
namespace {

std::string where(const char* function) {
  return std::string("alphax::comm::Communicator::") + function + ": ";
}

void check_count(std::ptrdiff_t count, const char* function) {
  if (count < 0)
    throw std::invalid_argument(where(function) + "negative count " + std::to_string(count) +
                                "; pass the number of elements (>= 0)");
}

void check_root(int root, int size, const char* function) {
  if (root < 0 || root >= size)
    throw std::invalid_argument(where(function) + "root " + std::to_string(root) +
                                " is out of range; it must be in [0, " + std::to_string(size) + ")");
}

void check_pointer(const void* pointer, std::ptrdiff_t count, const char* function, const char* name) {
  if (count > 0 && pointer == nullptr)
    throw std::invalid_argument(where(function) + name + " is null but count is " + std::to_string(count) +
                                "; pass a buffer of count elements");
}

void check_no_overlap(const void* send, const void* recv, std::size_t bytes, const char* function) {
  if (bytes == 0 || send == nullptr || recv == nullptr) return;
  const auto s = reinterpret_cast<std::uintptr_t>(send);
  const auto r = reinterpret_cast<std::uintptr_t>(recv);
  if (s < r + bytes && r < s + bytes)
    throw std::invalid_argument(
        where(function) +
        "the send and receive buffers overlap; pass disjoint buffers or use the in-place "
        "overload (one span)");
}

void check_algorithm(Collective collective, Algorithm algorithm, const char* function) {
  if (algorithm == Algorithm::ring && collective != Collective::allreduce)
    throw std::invalid_argument(where(function) +
                                "algorithm 'ring' exists for allreduce only; use lp, mpi or auto");
}

}  // namespace

Algorithm Communicator::resolve(Collective collective, Algorithm requested, std::size_t bytes) const {
  if (requested != Algorithm::automatic) return requested;
  return choose_algorithm(collective, size(), bytes, block_bytes_for(collective, bytes, Algorithm::lp),
                          block_bytes_for(collective, bytes, Algorithm::ring), link_model());
}

std::size_t Communicator::max_block_bytes(Collective collective) const {
  return collective == Collective::broadcast ? kMaxBroadcastBlockBytes : kMaxReduceBlockBytes;
}

std::size_t Communicator::block_bytes_for(Collective collective, std::size_t bytes,
                                          Algorithm algorithm) const {
  const std::size_t upper = max_block_bytes(collective);
  const std::size_t given = options().block_bytes;
  if (given != 0) return std::max<std::size_t>(64, std::min(given, upper)) / 8 * 8;
  if (algorithm == Algorithm::ring) return std::min(kRingSegmentBytes, upper);
  return std::min(optimal_block_bytes(collective, size(), bytes, link_model()), upper);
}

void Communicator::broadcast_bytes(void* data, std::ptrdiff_t count, DataType type, int root,
                                   Algorithm algorithm) {
  check_count(count, "broadcast");
  check_root(root, size(), "broadcast");
  check_pointer(data, count, "broadcast", "data");
  check_algorithm(Collective::broadcast, algorithm, "broadcast");
  const auto n = static_cast<std::size_t>(count);
  do_broadcast(data, n, type, root, resolve(Collective::broadcast, algorithm, n * size_of(type)));
}

void Communicator::reduce_bytes(const void* send, void* recv, std::ptrdiff_t count, DataType type,
                                ReduceOp op, int root, Algorithm algorithm, bool in_place) {
  check_count(count, "reduce");
  check_root(root, size(), "reduce");
  check_pointer(send, count, "reduce", "send buffer");
  if (rank() == root) check_pointer(recv, count, "reduce", "receive buffer (at the root)");
  check_algorithm(Collective::reduce, algorithm, "reduce");
  const auto n = static_cast<std::size_t>(count);
  if (!in_place) check_no_overlap(send, recv, n * size_of(type), "reduce");
  // Only the root's receive buffer is written; elsewhere it is ignored (in place: input only).
  void* target = rank() == root ? recv : nullptr;
  do_reduce(send, target, n, type, op, root, resolve(Collective::reduce, algorithm, n * size_of(type)));
}

void Communicator::allreduce_bytes(const void* send, void* recv, std::ptrdiff_t count, DataType type,
                                   ReduceOp op, Algorithm algorithm, bool in_place) {
  check_count(count, "allreduce");
  check_pointer(send, count, "allreduce", "send buffer");
  check_pointer(recv, count, "allreduce", "receive buffer");
  const auto n = static_cast<std::size_t>(count);
  if (!in_place) check_no_overlap(send, recv, n * size_of(type), "allreduce");
  do_allreduce(send, recv, n, type, op, resolve(Collective::allreduce, algorithm, n * size_of(type)));
}

void Communicator::check_recv_span(std::size_t send_size, std::size_t recv_size, int root,
                                   const char* function) const {
  if (rank() == root && recv_size != send_size)
    throw std::invalid_argument(where(function) + "the root's receive span has " + std::to_string(recv_size) +
                                " elements but the send span has " + std::to_string(send_size) +
                                "; give the root a receive span of the same size");
  if (rank() != root && recv_size != 0 && recv_size != send_size)
    throw std::invalid_argument(where(function) + "receive span of " + std::to_string(recv_size) +
                                " elements for a send span of " + std::to_string(send_size) +
                                "; pass an empty span or one of the same size on non-root ranks");
}

void Communicator::check_same_size(std::size_t send_size, std::size_t recv_size, const char* function) {
  if (send_size != recv_size)
    throw std::invalid_argument(where(function) + "send span has " + std::to_string(send_size) +
                                " elements but receive span has " + std::to_string(recv_size) +
                                "; pass spans of equal size");
}

// ---------------------------------------------------------------------------------------------
SerialCommunicator::SerialCommunicator(CommunicatorOptions options) : options_(std::move(options)) {}

std::unique_ptr<Communicator> SerialCommunicator::split(int color, int /*key*/) const {
  if (color == kUndefinedColor) return nullptr;
  return std::make_unique<SerialCommunicator>(options_);
}

LinkModel SerialCommunicator::link_model() const { return options_.link.value_or(LinkModel{}); }

namespace {
void serial_only(Algorithm algorithm, const char* function) {
  if (algorithm == Algorithm::nccl)
    throw std::invalid_argument(
        std::string("alphax::comm::SerialCommunicator::") + function +
        ": algorithm 'nccl' needs an MpiCommunicator built with ALPHAX_ENABLE_NCCL; use lp, "
        "ring, mpi or auto on host buffers");
}
}  // namespace

void SerialCommunicator::do_broadcast(void* /*data*/, std::size_t /*count*/, DataType /*type*/, int /*root*/,
                                      Algorithm algorithm) {
  serial_only(algorithm, "broadcast");
}

void SerialCommunicator::do_reduce(const void* send, void* recv, std::size_t count, DataType type,
                                   ReduceOp /*op*/, int /*root*/, Algorithm algorithm) {
  serial_only(algorithm, "reduce");
  if (recv != nullptr && send != recv && count > 0) std::memcpy(recv, send, count * size_of(type));
}

void SerialCommunicator::do_allreduce(const void* send, void* recv, std::size_t count, DataType type,
                                      ReduceOp /*op*/, Algorithm algorithm) {
  serial_only(algorithm, "allreduce");
  if (send != recv && count > 0) std::memcpy(recv, send, count * size_of(type));
}

}  // namespace alphax::comm
