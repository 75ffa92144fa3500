#pragma once
// Links through shared memory on one node: every rank owns, per flow, a single-producer
// single-consumer ring of kSharedSlots cache-sized slots in an MPI-3 shared window. The sender
// copies (or combines) a block into a slot and publishes it; the receiver reads it from there —
// both cores work on every block, and a received partial sum is added straight from a slot that
// is still in cache instead of from a whole message first written to DRAM.
#include <mpi.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "links.hpp"

namespace alphax::comm::detail {

/// Slots per ring.
inline constexpr int kSharedSlots = 4;
/// Bytes per slot: the largest block on the shared-memory transport (four slots stay in L2).
inline constexpr std::size_t kSharedSlotBytes = std::size_t{256} << 10;

/// Whether every rank of `comm` is on one node (collective; the same answer on every rank).
bool all_on_one_node(MPI_Comm comm);

/// The shared window of one communicator and its rings (RAII: unlocked and freed on destruction,
/// which is collective like the communicator's own destruction). Counters only grow, so a call
/// needs no reset: both ends of a ring have moved the same number of blocks after every call.
/// The window's backing file is unlinked by the MPI library once every rank has mapped it, so a
/// job that dies leaves nothing behind in /dev/shm.
class SharedRings {
 public:
  /// Collective over `comm`; every rank must be on one node. When the MPI library cannot make the
  /// shared window on some rank (its osc/sm component missing or excluded, no shared memory),
  /// available() is false on every rank and nothing is held.
  SharedRings(MPI_Comm comm, int rank, int size);
  ~SharedRings();
  SharedRings(const SharedRings&) = delete;
  SharedRings& operator=(const SharedRings&) = delete;

  struct Ring {
    std::atomic<std::uint64_t>* head;  ///< blocks published (written by the owner)
    std::atomic<std::uint64_t>* tail;  ///< blocks consumed (written by the reader)
    std::byte* slots;
  };
  /// This rank's ring on `flow` (it sends into it).
  Ring outgoing(Flow flow) const { return outgoing_[static_cast<std::size_t>(flow)]; }
  /// The neighbour's ring that sends to this rank on `flow`.
  Ring incoming(Flow flow) const { return incoming_[static_cast<std::size_t>(flow)]; }
  /// Whether the window was made (the same answer on every rank).
  bool available() const { return window_ != MPI_WIN_NULL; }
  /// Whether a waiting rank should spin rather than yield: every rank has a core of its own and
  /// the MPI library was not told to yield when idle.
  bool spin() const { return spin_; }

 private:
  bool map_rings(MPI_Comm comm, int rank, int size);
  void release();

  MPI_Win window_ = MPI_WIN_NULL;
  bool locked_ = false;
  bool spin_ = false;
  std::array<Ring, kFlows> outgoing_{};
  std::array<Ring, kFlows> incoming_{};
};

/// One call's links over the shared rings.
class SharedMemoryLinks final : public Links {
 public:
  explicit SharedMemoryLinks(const SharedRings& rings);

  std::size_t max_block_bytes() const override { return kSharedSlotBytes; }
  std::size_t receive_window() const override { return kSharedSlots; }
  bool can_send(Flow flow, std::size_t seq) override;
  std::byte* send_buffer(Flow flow, std::size_t seq) override;
  void send(Flow flow, std::size_t seq, const std::byte* data, std::size_t bytes) override;
  bool send_reads(const std::byte*, std::size_t) override { return false; }  // sends copy at once
  void post_receive(Flow flow, std::size_t seq, std::byte* target, std::size_t bytes) override;
  bool receive_complete(Flow flow, std::size_t seq) override;
  const std::byte* received(Flow flow, std::size_t seq) override;
  void release(Flow flow, std::size_t seq) override;
  void wait() override;
  void finish() override {}

 private:
  struct Posted {
    std::byte* target = nullptr;
    std::size_t bytes = 0;
  };
  struct State {
    SharedRings::Ring out;
    SharedRings::Ring in;
    std::uint64_t send_base = 0;     // blocks this rank sent on the flow in earlier calls
    std::uint64_t receive_base = 0;  // blocks it received on the flow in earlier calls
    std::size_t completed = 0;       // receives of this call completed (in order)
    std::array<Posted, kSharedSlots> posted{};
  };
  static std::byte* slot(const SharedRings::Ring& ring, std::uint64_t sequence);
  State& state(Flow flow) { return states_[static_cast<std::size_t>(flow)]; }

  std::array<State, kFlows> states_{};
  bool spin_;
  unsigned idle_polls_ = 0;
};

}  // namespace alphax::comm::detail
