#include "pipelines.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "alphax/comm/cost_model.hpp"
#include "reduce_kernels.hpp"

namespace alphax::comm::detail {
namespace {

constexpr int kDepth = kPipelineDepth;
constexpr int kTagChainReduce = 7301;
constexpr int kTagChainBroadcast = 7302;
constexpr int kTagRing = 7303;

MPI_Datatype mpi_type(DataType type) { return type == DataType::float32 ? MPI_FLOAT : MPI_DOUBLE; }

void check_mpi(int rc, const char* call) {
  if (rc != MPI_SUCCESS)
    throw std::runtime_error(std::string("alphax::comm pipeline: ") + call + " failed with MPI error code " +
                             std::to_string(rc) + "; check the MPI installation and that every rank called the "
                             "same collective with the same count");
}

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

bool request_done(MPI_Request& request) {
  if (request == MPI_REQUEST_NULL) return true;
  int flag = 0;
  check_mpi(MPI_Test(&request, &flag, MPI_STATUS_IGNORE), "MPI_Test");
  return flag != 0;
}

// Blocks until at least one of the requests completes (completed ones become MPI_REQUEST_NULL).
void wait_for_any(MPI_Request* requests, int count, int* indices) {
  int completed = 0;
  check_mpi(MPI_Waitsome(count, requests, &completed, indices, MPI_STATUSES_IGNORE), "MPI_Waitsome");
  if (completed == MPI_UNDEFINED)
    throw std::logic_error("alphax::comm pipeline: nothing in flight while work remains (a bug in lib/comm)");
}

// The bytes a pending send reads, so nothing overwrites them before the send completes.
struct SendRegion {
  const std::byte* begin = nullptr;
  const std::byte* end = nullptr;
  bool overlaps(const std::byte* b, std::size_t bytes) const { return begin < b + bytes && b < end; }
};

// Uniform split of `count` elements into `parts` contiguous parts.
struct Partition {
  std::size_t count;
  std::size_t parts;
  std::size_t begin(std::size_t j) const { return j * count / parts; }
  std::size_t size(std::size_t j) const { return begin(j + 1) - begin(j); }
};

// One rank's part of a chain pipeline (Linear Pipelining). Chain position v = (rank − root + P)
// mod P. Reduce direction: partial sums flow from v+1 to v (towards the root), each rank adds its
// own block; broadcast direction: finished blocks flow from v−1 to v+1. Broadcast uses the second,
// reduce the first, allreduce both (the root starts sending block j back as soon as it is reduced).
class ChainPipeline {
 public:
  ChainPipeline(const Group& group, int root, DataType type, ReduceOp op, std::size_t count, std::size_t block_bytes,
                PipelineScratch& scratch, bool reduce_part, bool broadcast_part, const void* in, void* out)
      : comm_(group.comm),
        position_((group.rank - root + group.size) % group.size),
        size_(group.size),
        prev_((group.rank - 1 + group.size) % group.size),
        next_((group.rank + 1) % group.size),
        type_(type),
        op_(op),
        element_bytes_(size_of(type)),
        blocks_(std::max<std::size_t>(1, ceil_div(count * size_of(type), block_bytes))),
        partition_{count, blocks_},
        scratch_(scratch),
        requests_(scratch.requests()),
        reduce_part_(reduce_part),
        broadcast_part_(broadcast_part),
        in_(static_cast<const std::byte*>(in)),
        out_(static_cast<std::byte*>(out)) {}

  void run() {
    std::fill(requests_, requests_ + 4 * kDepth, MPI_REQUEST_NULL);
    for (;;) {
      bool progressed = true;
      while (progressed) {
        progressed = false;
        if (reduce_part_) {
          progressed |= post_reduce_receives();
          progressed |= reduce_blocks();
        }
        if (broadcast_part_) {
          progressed |= post_broadcast_receives();
          progressed |= forward_blocks();
        }
      }
      if ((!reduce_part_ || reduce_done_ == blocks_) && (!broadcast_part_ || broadcast_done_ == blocks_)) break;
      wait_for_any(requests_, 4 * kDepth, scratch_.indices());
    }
    check_mpi(MPI_Waitall(4 * kDepth, requests_, MPI_STATUSES_IGNORE), "MPI_Waitall");
  }

 private:
  MPI_Request& reduce_recv(std::size_t j) { return requests_[j % kDepth]; }
  MPI_Request& reduce_send(std::size_t j) { return requests_[kDepth + j % kDepth]; }
  MPI_Request& broadcast_recv(std::size_t j) { return requests_[2 * kDepth + j % kDepth]; }
  MPI_Request& broadcast_send(std::size_t j) { return requests_[3 * kDepth + j % kDepth]; }
  int slot(std::size_t j) const { return static_cast<int>(j % kDepth); }
  std::size_t offset(std::size_t j) const { return partition_.begin(j) * element_bytes_; }
  int elements(std::size_t j) const { return static_cast<int>(partition_.size(j)); }
  bool is_root() const { return position_ == 0; }
  bool is_tail() const { return position_ == size_ - 1; }

  bool post_reduce_receives() {
    bool posted = false;
    while (!is_tail() && reduce_posted_ < blocks_ && reduce_posted_ < reduce_done_ + kDepth) {
      const std::size_t j = reduce_posted_++;
      check_mpi(MPI_Irecv(scratch_.recv_slot(slot(j)), elements(j), mpi_type(type_), next_, kTagChainReduce, comm_,
                          &reduce_recv(j)),
                "MPI_Irecv");
      posted = true;
    }
    return posted;
  }

  bool reduce_blocks() {
    bool any = false;
    while (reduce_done_ < blocks_) {
      const std::size_t j = reduce_done_;
      if (!is_tail() && !(reduce_posted_ > j && request_done(reduce_recv(j)))) break;
      if (!is_root() && !request_done(reduce_send(j))) break;
      const std::byte* mine = in_ + offset(j);
      const std::size_t n = partition_.size(j);
      if (is_root()) {
        combine(out_ + offset(j), mine, scratch_.recv_slot(slot(j)), n, type_, op_);
      } else {
        const std::byte* payload = mine;
        if (!is_tail()) {
          combine(scratch_.send_slot(slot(j)), mine, scratch_.recv_slot(slot(j)), n, type_, op_);
          payload = scratch_.send_slot(slot(j));
        }
        check_mpi(MPI_Isend(payload, elements(j), mpi_type(type_), prev_, kTagChainReduce, comm_, &reduce_send(j)),
                  "MPI_Isend");
        reduce_sent_[slot(j)] = {payload, payload + n * element_bytes_};
      }
      ++reduce_done_;
      any = true;
    }
    return any;
  }

  // A block may be received into `out` only after this rank has read its own input there (in
  // place) and no pending reduce-direction send still reads those bytes.
  bool post_broadcast_receives() {
    bool posted = false;
    while (!is_root() && broadcast_posted_ < blocks_ && broadcast_posted_ < broadcast_done_ + kDepth) {
      const std::size_t j = broadcast_posted_;
      std::byte* target = out_ + offset(j);
      if (reduce_part_) {
        if (j >= reduce_done_) break;
        if (blocked_by_reduce_send(target, partition_.size(j) * element_bytes_)) break;
      }
      check_mpi(MPI_Irecv(target, elements(j), mpi_type(type_), prev_, kTagChainBroadcast, comm_, &broadcast_recv(j)),
                "MPI_Irecv");
      ++broadcast_posted_;
      posted = true;
    }
    return posted;
  }

  bool blocked_by_reduce_send(const std::byte* target, std::size_t bytes) {
    for (int e = 0; e < kDepth; ++e)
      if (reduce_sent_[e].overlaps(target, bytes) && !request_done(requests_[kDepth + e])) return true;
    return false;
  }

  bool forward_blocks() {
    bool any = false;
    while (broadcast_done_ < blocks_) {
      const std::size_t j = broadcast_done_;
      if (is_root()) {
        if (reduce_part_ && j >= reduce_done_) break;
      } else if (!(broadcast_posted_ > j && request_done(broadcast_recv(j)))) {
        break;
      }
      if (!is_tail()) {
        if (!request_done(broadcast_send(j))) break;
        check_mpi(MPI_Isend(out_ + offset(j), elements(j), mpi_type(type_), next_, kTagChainBroadcast, comm_,
                            &broadcast_send(j)),
                  "MPI_Isend");
      }
      ++broadcast_done_;
      any = true;
    }
    return any;
  }

  MPI_Comm comm_;
  int position_;
  int size_;
  int prev_;
  int next_;
  DataType type_;
  ReduceOp op_;
  std::size_t element_bytes_;
  std::size_t blocks_;
  Partition partition_;
  PipelineScratch& scratch_;
  MPI_Request* requests_;
  bool reduce_part_;
  bool broadcast_part_;
  const std::byte* in_;
  std::byte* out_;
  std::size_t reduce_posted_ = 0;
  std::size_t reduce_done_ = 0;
  std::size_t broadcast_posted_ = 0;
  std::size_t broadcast_done_ = 0;
  SendRegion reduce_sent_[kDepth];
};

// One rank's part of the pipelined ring allreduce. The buffer is cut into P chunks, each into m
// segments; items i = s·m + k (step s, segment k) flow to the right neighbour in order. Step s < P−1
// (reduce-scatter): receive the partial of chunk (r − s − 1) and add the own input; steps ≥ P − 1
// (allgather): receive finished segments. Send item i (step s ≥ 1) is the result of receive item
// i − m, so it forwards chunk (r − s). Chunk c is reduced as x_{c+P−1} + (… + (x_{c+1} + x_c)).
class RingPipeline {
 public:
  RingPipeline(const Group& group, DataType type, ReduceOp op, std::size_t count, std::size_t block_bytes,
               PipelineScratch& scratch, const void* in, void* out)
      : comm_(group.comm),
        rank_(group.rank),
        size_(group.size),
        left_((group.rank - 1 + group.size) % group.size),
        right_((group.rank + 1) % group.size),
        type_(type),
        op_(op),
        element_bytes_(size_of(type)),
        chunks_{count, static_cast<std::size_t>(group.size)},
        segments_(std::max<std::size_t>(1, ceil_div(ceil_div(count, chunks_.parts) * size_of(type), block_bytes))),
        items_(2 * static_cast<std::size_t>(group.size - 1) * segments_),
        scratch_(scratch),
        requests_(scratch.requests()),
        in_(static_cast<const std::byte*>(in)),
        out_(static_cast<std::byte*>(out)) {}

  void run() {
    std::fill(requests_, requests_ + 2 * kDepth, MPI_REQUEST_NULL);
    for (;;) {
      bool progressed = true;
      while (progressed) {
        progressed = false;
        progressed |= post_receives();
        progressed |= consume_receives();
        progressed |= issue_sends();
      }
      if (recv_done_ == items_ && sends_issued_ == items_) break;
      wait_for_any(requests_, 2 * kDepth, scratch_.indices());
    }
    check_mpi(MPI_Waitall(2 * kDepth, requests_, MPI_STATUSES_IGNORE), "MPI_Waitall");
  }

 private:
  struct Segment {
    std::size_t offset_bytes;
    std::size_t elements;
  };

  std::size_t step(std::size_t i) const { return i / segments_; }
  std::size_t chunk(std::size_t s, int shift) const {
    const auto p = static_cast<std::size_t>(size_);
    return (static_cast<std::size_t>(rank_) + p * 2 - s % p - static_cast<std::size_t>(shift)) % p;
  }
  Segment segment(std::size_t c, std::size_t k) const {
    const std::size_t length = chunks_.size(c);
    const std::size_t first = chunks_.begin(c) + k * length / segments_;
    const std::size_t last = chunks_.begin(c) + (k + 1) * length / segments_;
    return {first * element_bytes_, last - first};
  }
  Segment received(std::size_t i) const { return segment(chunk(step(i), 1), i % segments_); }
  Segment sent(std::size_t i) const { return segment(chunk(step(i), 0), i % segments_); }
  MPI_Request& recv_request(std::size_t i) { return requests_[i % kDepth]; }
  MPI_Request& send_request(std::size_t i) { return requests_[kDepth + i % kDepth]; }
  std::byte* recv_slot(std::size_t i) { return scratch_.recv_slot(static_cast<int>(i % kDepth)); }

  bool post_receives() {
    bool posted = false;
    while (recv_posted_ < items_ && recv_posted_ < recv_done_ + kDepth) {
      const std::size_t i = recv_posted_++;
      check_mpi(MPI_Irecv(recv_slot(i), static_cast<int>(received(i).elements), mpi_type(type_), left_, kTagRing, comm_,
                          &recv_request(i)),
                "MPI_Irecv");
      posted = true;
    }
    return posted;
  }

  bool consume_receives() {
    bool any = false;
    const auto reduce_steps = static_cast<std::size_t>(size_ - 1);
    while (recv_done_ < items_) {
      const std::size_t i = recv_done_;
      if (!(recv_posted_ > i && request_done(recv_request(i)))) break;
      const Segment seg = received(i);
      std::byte* target = out_ + seg.offset_bytes;
      if (blocked_by_send(target, seg.elements * element_bytes_)) break;
      if (step(i) < reduce_steps)
        combine(target, in_ + seg.offset_bytes, recv_slot(i), seg.elements, type_, op_);
      else if (seg.elements > 0)
        std::memcpy(target, recv_slot(i), seg.elements * element_bytes_);
      ++recv_done_;
      any = true;
    }
    return any;
  }

  bool issue_sends() {
    bool any = false;
    while (sends_issued_ < items_) {
      const std::size_t i = sends_issued_;
      const bool own_input = step(i) == 0;
      if (!own_input && recv_done_ + segments_ <= i) break;
      if (!request_done(send_request(i))) break;
      const Segment seg = sent(i);
      const std::byte* source = (own_input ? in_ : out_) + seg.offset_bytes;
      check_mpi(MPI_Isend(source, static_cast<int>(seg.elements), mpi_type(type_), right_, kTagRing, comm_,
                          &send_request(i)),
                "MPI_Isend");
      sent_[i % kDepth] = {source, source + seg.elements * element_bytes_};
      ++sends_issued_;
      any = true;
    }
    return any;
  }

  bool blocked_by_send(const std::byte* target, std::size_t bytes) {
    for (int e = 0; e < kDepth; ++e)
      if (sent_[e].overlaps(target, bytes) && !request_done(requests_[kDepth + e])) return true;
    return false;
  }

  MPI_Comm comm_;
  int rank_;
  int size_;
  int left_;
  int right_;
  DataType type_;
  ReduceOp op_;
  std::size_t element_bytes_;
  Partition chunks_;
  std::size_t segments_;
  std::size_t items_;
  PipelineScratch& scratch_;
  MPI_Request* requests_;
  const std::byte* in_;
  std::byte* out_;
  std::size_t recv_posted_ = 0;
  std::size_t recv_done_ = 0;
  std::size_t sends_issued_ = 0;
  SendRegion sent_[kDepth];
};

}  // namespace

PipelineScratch::PipelineScratch()
    : slot_bytes_(kMaxReduceBlockBytes),
      storage_(2 * kDepth * kMaxReduceBlockBytes + 64),
      requests_(4 * kDepth, MPI_REQUEST_NULL),
      indices_(4 * kDepth) {
  const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
  base_ = storage_.data() + ((64 - address % 64) % 64);
}

void lp_broadcast(const Group& group, void* data, std::size_t count, DataType type, int root,
                  std::size_t block_bytes, PipelineScratch& scratch) {
  if (group.size == 1 || count == 0) return;
  ChainPipeline(group, root, type, ReduceOp::sum, count, block_bytes, scratch, false, true, data, data).run();
}

void lp_reduce(const Group& group, const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
               int root, std::size_t block_bytes, PipelineScratch& scratch) {
  if (count == 0) return;
  if (group.size == 1) {
    if (recv != send) std::memcpy(recv, send, count * size_of(type));
    return;
  }
  ChainPipeline(group, root, type, op, count, std::min(block_bytes, scratch.slot_bytes()), scratch, true, false, send,
                recv)
      .run();
}

void lp_allreduce(const Group& group, const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                  std::size_t block_bytes, PipelineScratch& scratch) {
  if (count == 0) return;
  if (group.size == 1) {
    if (recv != send) std::memcpy(recv, send, count * size_of(type));
    return;
  }
  ChainPipeline(group, 0, type, op, count, std::min(block_bytes, scratch.slot_bytes()), scratch, true, true, send,
                recv)
      .run();
}

void ring_allreduce(const Group& group, const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                    std::size_t block_bytes, PipelineScratch& scratch) {
  if (count == 0) return;
  if (group.size == 1) {
    if (recv != send) std::memcpy(recv, send, count * size_of(type));
    return;
  }
  RingPipeline(group, type, op, count, std::min(block_bytes, scratch.slot_bytes()), scratch, send, recv).run();
}

}  // namespace alphax::comm::detail
