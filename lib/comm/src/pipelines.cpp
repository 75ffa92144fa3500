#include "pipelines.hpp"

#include <algorithm>
#include <cstring>

#include "reduce_kernels.hpp"

namespace alphax::comm::detail {
namespace {

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// Uniform split of `count` elements into `parts` contiguous parts.
struct Partition {
  std::size_t count;
  std::size_t parts;
  std::size_t begin(std::size_t j) const { return j * count / parts; }
  std::size_t size(std::size_t j) const { return begin(j + 1) - begin(j); }
};

// Runs `step` (which returns whether anything progressed) until `done`, waiting on the links
// whenever a whole pass made no progress; then drains the links.
template <class Step, class Done>
void drive(Links& links, Step&& step, Done&& done) {
  for (;;) {
    while (step()) {
    }
    if (done()) break;
    links.wait();
  }
  links.finish();
}

// One rank's part of a chain pipeline (Linear Pipelining). Chain position v = (rank − root + P)
// mod P. Reduce direction (Flow::to_prev): partial sums flow from v+1 to v, each rank adds its own
// block, x_v + (partial of v+1), so the order is fixed. Broadcast direction (Flow::to_next):
// finished blocks flow from v−1 to v+1. Broadcast uses the second, reduce the first, allreduce
// both (the root sends block j back as soon as it is reduced).
class ChainPipeline {
 public:
  ChainPipeline(const Place& place, Links& links, int root, DataType type, ReduceOp op, std::size_t count,
                std::size_t block_bytes, bool reduce_part, bool broadcast_part, const void* in, void* out)
      : links_(links),
        position_((place.rank - root + place.size) % place.size),
        size_(place.size),
        type_(type),
        op_(op),
        element_bytes_(size_of(type)),
        blocks_(std::max<std::size_t>(1, ceil_div(count * size_of(type), block_bytes))),
        partition_{count, blocks_},
        window_(links.receive_window()),
        reduce_part_(reduce_part),
        broadcast_part_(broadcast_part),
        in_(static_cast<const std::byte*>(in)),
        out_(static_cast<std::byte*>(out)) {}

  void run() {
    drive(
        links_,
        [this] {
          bool progressed = false;
          if (reduce_part_) progressed = post_reduce_receives() | reduce_blocks();
          if (broadcast_part_) progressed = (post_broadcast_receives() | forward_blocks()) || progressed;
          return progressed;
        },
        [this] {
          return (!reduce_part_ || reduce_done_ == blocks_) &&
                 (!broadcast_part_ || broadcast_done_ == blocks_);
        });
  }

 private:
  std::size_t offset(std::size_t j) const { return partition_.begin(j) * element_bytes_; }
  std::size_t bytes(std::size_t j) const { return partition_.size(j) * element_bytes_; }
  bool is_root() const { return position_ == 0; }
  bool is_tail() const { return position_ == size_ - 1; }

  bool post_reduce_receives() {
    bool posted = false;
    while (!is_tail() && reduce_posted_ < blocks_ && reduce_posted_ < reduce_done_ + window_) {
      const std::size_t j = reduce_posted_++;
      links_.post_receive(Flow::to_prev, j, nullptr, bytes(j));
      posted = true;
    }
    return posted;
  }

  bool reduce_blocks() {
    bool any = false;
    while (reduce_done_ < blocks_) {
      const std::size_t j = reduce_done_;
      if (!is_tail() && !(reduce_posted_ > j && links_.receive_complete(Flow::to_prev, j))) break;
      if (!is_root() && !links_.can_send(Flow::to_prev, j)) break;
      const std::byte* mine = in_ + offset(j);
      const std::size_t n = partition_.size(j);
      if (is_tail()) {
        links_.send(Flow::to_prev, j, mine, bytes(j));
      } else {
        std::byte* target = is_root() ? out_ + offset(j) : links_.send_buffer(Flow::to_prev, j);
        combine(target, mine, links_.received(Flow::to_prev, j), n, type_, op_);
        links_.release(Flow::to_prev, j);
        if (!is_root()) links_.send(Flow::to_prev, j, target, bytes(j));
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
    while (!is_root() && broadcast_posted_ < blocks_ && broadcast_posted_ < broadcast_done_ + window_) {
      const std::size_t j = broadcast_posted_;
      std::byte* target = out_ + offset(j);
      if (reduce_part_ && (j >= reduce_done_ || links_.send_reads(target, bytes(j)))) break;
      links_.post_receive(Flow::to_next, j, target, bytes(j));
      ++broadcast_posted_;
      posted = true;
    }
    return posted;
  }

  bool forward_blocks() {
    bool any = false;
    while (broadcast_done_ < blocks_) {
      const std::size_t j = broadcast_done_;
      if (is_root()) {
        if (reduce_part_ && j >= reduce_done_) break;
      } else if (!(broadcast_posted_ > j && links_.receive_complete(Flow::to_next, j))) {
        break;
      }
      if (!is_tail()) {
        if (!links_.can_send(Flow::to_next, j)) break;
        links_.send(Flow::to_next, j, out_ + offset(j), bytes(j));
      }
      ++broadcast_done_;
      any = true;
    }
    return any;
  }

  Links& links_;
  int position_;
  int size_;
  DataType type_;
  ReduceOp op_;
  std::size_t element_bytes_;
  std::size_t blocks_;
  Partition partition_;
  std::size_t window_;
  bool reduce_part_;
  bool broadcast_part_;
  const std::byte* in_;
  std::byte* out_;
  std::size_t reduce_posted_ = 0;
  std::size_t reduce_done_ = 0;
  std::size_t broadcast_posted_ = 0;
  std::size_t broadcast_done_ = 0;
};

// One rank's part of the pipelined ring allreduce (Flow::to_next: send right, receive from the
// left). The buffer is cut into P chunks, each into m segments; items i = s·m + k (step s, segment
// k) flow to the right neighbour in order. Step s < P−1 (reduce-scatter): receive the partial of
// chunk (r − s − 1) and add the own input; steps ≥ P − 1 (allgather): receive finished segments.
// Send item i (step s ≥ 1) is the result of receive item i − m, so it forwards chunk (r − s).
// Chunk c is reduced as x_{c+P−1} + (… + (x_{c+1} + x_c)).
class RingPipeline {
 public:
  RingPipeline(const Place& place, Links& links, DataType type, ReduceOp op, std::size_t count,
               std::size_t block_bytes, const void* in, void* out)
      : links_(links),
        rank_(place.rank),
        size_(place.size),
        type_(type),
        op_(op),
        element_bytes_(size_of(type)),
        chunks_{count, static_cast<std::size_t>(place.size)},
        segments_(
            std::max<std::size_t>(1, ceil_div(ceil_div(count, chunks_.parts) * size_of(type), block_bytes))),
        items_(2 * static_cast<std::size_t>(place.size - 1) * segments_),
        window_(links.receive_window()),
        in_(static_cast<const std::byte*>(in)),
        out_(static_cast<std::byte*>(out)) {}

  void run() {
    drive(
        links_, [this] { return post_receives() | consume_receives() | issue_sends(); },
        [this] { return recv_done_ == items_ && sends_issued_ == items_; });
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

  bool post_receives() {
    bool posted = false;
    while (recv_posted_ < items_ && recv_posted_ < recv_done_ + window_) {
      const std::size_t i = recv_posted_++;
      links_.post_receive(Flow::to_next, i, nullptr, received(i).elements * element_bytes_);
      posted = true;
    }
    return posted;
  }

  bool consume_receives() {
    bool any = false;
    const auto reduce_steps = static_cast<std::size_t>(size_ - 1);
    while (recv_done_ < items_) {
      const std::size_t i = recv_done_;
      if (!(recv_posted_ > i && links_.receive_complete(Flow::to_next, i))) break;
      const Segment seg = received(i);
      std::byte* target = out_ + seg.offset_bytes;
      if (links_.send_reads(target, seg.elements * element_bytes_)) break;
      const std::byte* data = links_.received(Flow::to_next, i);
      if (step(i) < reduce_steps)
        combine(target, in_ + seg.offset_bytes, data, seg.elements, type_, op_);
      else if (seg.elements > 0)
        std::memcpy(target, data, seg.elements * element_bytes_);
      links_.release(Flow::to_next, i);
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
      if (!links_.can_send(Flow::to_next, i)) break;
      const Segment seg = sent(i);
      links_.send(Flow::to_next, i, (own_input ? in_ : out_) + seg.offset_bytes,
                  seg.elements * element_bytes_);
      ++sends_issued_;
      any = true;
    }
    return any;
  }

  Links& links_;
  int rank_;
  int size_;
  DataType type_;
  ReduceOp op_;
  std::size_t element_bytes_;
  Partition chunks_;
  std::size_t segments_;
  std::size_t items_;
  std::size_t window_;
  const std::byte* in_;
  std::byte* out_;
  std::size_t recv_posted_ = 0;
  std::size_t recv_done_ = 0;
  std::size_t sends_issued_ = 0;
};

bool copy_when_alone(const Place& place, const void* send, void* recv, std::size_t count, DataType type) {
  if (place.size != 1) return false;
  if (recv != nullptr && recv != send && count > 0) std::memcpy(recv, send, count * size_of(type));
  return true;
}

}  // namespace

void lp_broadcast(const Place& place, Links& links, void* data, std::size_t count, DataType type, int root,
                  std::size_t block_bytes) {
  if (place.size == 1 || count == 0) return;
  ChainPipeline(place, links, root, type, ReduceOp::sum, count, block_bytes, false, true, data, data).run();
}

void lp_reduce(const Place& place, Links& links, const void* send, void* recv, std::size_t count,
               DataType type, ReduceOp op, int root, std::size_t block_bytes) {
  if (count == 0 || copy_when_alone(place, send, recv, count, type)) return;
  ChainPipeline(place, links, root, type, op, count, std::min(block_bytes, links.max_block_bytes()), true,
                false, send, recv)
      .run();
}

void lp_allreduce(const Place& place, Links& links, const void* send, void* recv, std::size_t count,
                  DataType type, ReduceOp op, std::size_t block_bytes) {
  if (count == 0 || copy_when_alone(place, send, recv, count, type)) return;
  ChainPipeline(place, links, 0, type, op, count, std::min(block_bytes, links.max_block_bytes()), true, true,
                send, recv)
      .run();
}

void ring_allreduce(const Place& place, Links& links, const void* send, void* recv, std::size_t count,
                    DataType type, ReduceOp op, std::size_t block_bytes) {
  if (count == 0 || copy_when_alone(place, send, recv, count, type)) return;
  RingPipeline(place, links, type, op, count, std::min(block_bytes, links.max_block_bytes()), send, recv)
      .run();
}

}  // namespace alphax::comm::detail
