#pragma once
// The two neighbour links of a rank in a chain or ring, behind one interface, so the LP and ring
// pipelines are written once for both transports: MPI point-to-point (PointToPointLinks) and
// shared-memory slot rings (SharedMemoryLinks).
#include <cstddef>

namespace alphax::comm::detail {

/// A stream of blocks between neighbours: to_next carries blocks from rank r to r + 1 (mod P; the
/// broadcast direction of a chain rooted at 0 and the direction of the ring), to_prev from r to
/// r − 1 (the reduce direction). On each flow a rank sends to one neighbour and receives from the
/// other. Blocks are numbered 0, 1, ... per flow and per collective call; both ends of a flow
/// move the same number of blocks of the same sizes in the same order.
enum class Flow { to_next = 0, to_prev = 1 };
inline constexpr int kFlows = 2;

/// One collective call's view of the links. Every call is non-blocking except wait(); a pipeline
/// polls them and calls wait() when nothing progressed.
class Links {
 public:
  virtual ~Links() = default;

  /// Largest block (bytes) the links move.
  virtual std::size_t max_block_bytes() const = 0;
  /// How many receives may be posted ahead of the oldest unreleased one.
  virtual std::size_t receive_window() const = 0;

  /// Whether block `seq` may be sent on `flow` now (earlier ones are all sent).
  virtual bool can_send(Flow flow, std::size_t seq) = 0;
  /// Staging space of max_block_bytes() for block `seq` (valid once can_send is true): combine
  /// into it and pass it to send() to avoid a copy.
  virtual std::byte* send_buffer(Flow flow, std::size_t seq) = 0;
  /// Sends `bytes` at `data` (send_buffer(flow, seq) or caller memory) as block `seq`.
  virtual void send(Flow flow, std::size_t seq, const std::byte* data, std::size_t bytes) = 0;
  /// Whether a pending send still reads caller memory overlapping [data, data + bytes).
  virtual bool send_reads(const std::byte* data, std::size_t bytes) = 0;

  /// Announces block `seq` of `bytes` on `flow`, to be delivered into `target` (caller memory),
  /// or kept in link memory when `target` is null (read it with received(), then release()).
  virtual void post_receive(Flow flow, std::size_t seq, std::byte* target, std::size_t bytes) = 0;
  /// Whether posted block `seq` has arrived (and, with a target, has been written there).
  /// Idempotent; blocks complete in order.
  virtual bool receive_complete(Flow flow, std::size_t seq) = 0;
  /// The data of a completed block.
  virtual const std::byte* received(Flow flow, std::size_t seq) = 0;
  /// Done with a completed block kept in link memory; blocks are released in order.
  virtual void release(Flow flow, std::size_t seq) = 0;

  /// Blocks until something may have changed.
  virtual void wait() = 0;
  /// Ends the call: waits until every send has left caller memory.
  virtual void finish() = 0;
};

}  // namespace alphax::comm::detail
