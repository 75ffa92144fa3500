#pragma once
// Links over MPI point-to-point messages: MPI_Isend / MPI_Irecv with kPipelineDepth blocks in
// flight per flow and direction.
#include <mpi.h>

#include <array>
#include <cstddef>
#include <vector>

#include "alphax/comm/types.hpp"
#include "links.hpp"

namespace alphax::comm::detail {

/// Blocks in flight per flow and direction.
inline constexpr int kPipelineDepth = 4;

/// Where a collective runs: the communicator, this rank, the size.
struct Group {
  MPI_Comm comm;
  int rank;
  int size;
};

/// Owned by one communicator, allocated once and reused by every call: per flow, depth receive
/// slots and depth send slots of kMaxReduceBlockBytes (small enough to stay in cache while a block
/// is combined), and the request arrays.
class PointToPointScratch {
 public:
  PointToPointScratch();
  std::size_t slot_bytes() const { return slot_bytes_; }
  std::byte* slot(Flow flow, bool send, int index);
  MPI_Request* requests() { return requests_.data(); }
  int* indices() { return indices_.data(); }
  static constexpr int kRequests = kFlows * 2 * kPipelineDepth;

 private:
  std::size_t slot_bytes_;
  std::vector<std::byte> storage_;
  std::byte* base_ = nullptr;
  std::vector<MPI_Request> requests_;
  std::vector<int> indices_;
};

/// How long a rank with nothing to do sleeps between polls of its requests when blocks of
/// `block_bytes` take long on the wire: a quarter of a block's modelled time b·β, at most 1 ms;
/// 0 (spin inside MPI_Waitsome) when that is under 100 µs. On a slow network the kernel moves the
/// data while the rank sleeps (a block in flight per link covers the sleep four times over), and
/// ranks that spin take the cores the kernel's network stack needs when ranks outnumber cores:
/// measured on the shaped 200 Mbit/s test network with 8 ranks on 2 cores (docs/comm.md).
double idle_sleep_seconds(std::size_t block_bytes, const LinkModel& link);

/// One call's links over MPI point-to-point messages on `group.comm`.
class PointToPointLinks final : public Links {
 public:
  /// `idle_sleep_s`: see idle_sleep_seconds (0: wait in MPI_Waitsome).
  PointToPointLinks(const Group& group, PointToPointScratch& scratch, double idle_sleep_s);

  std::size_t max_block_bytes() const override { return scratch_.slot_bytes(); }
  std::size_t receive_window() const override { return kPipelineDepth; }
  bool can_send(Flow flow, std::size_t seq) override;
  std::byte* send_buffer(Flow flow, std::size_t seq) override;
  void send(Flow flow, std::size_t seq, const std::byte* data, std::size_t bytes) override;
  bool send_reads(const std::byte* data, std::size_t bytes) override;
  void post_receive(Flow flow, std::size_t seq, std::byte* target, std::size_t bytes) override;
  bool receive_complete(Flow flow, std::size_t seq) override;
  const std::byte* received(Flow flow, std::size_t seq) override;
  void release(Flow, std::size_t) override {}
  void wait() override;
  void finish() override;

 private:
  struct Region {
    const std::byte* begin = nullptr;
    const std::byte* end = nullptr;
  };
  static int index(Flow flow, bool send, std::size_t seq);
  MPI_Request& request(Flow flow, bool send, std::size_t seq) {
    return scratch_.requests()[index(flow, send, seq)];
  }
  int destination(Flow flow) const;
  int source(Flow flow) const;

  MPI_Comm comm_;
  int rank_;
  int size_;
  PointToPointScratch& scratch_;
  double idle_sleep_s_;
  std::array<Region, PointToPointScratch::kRequests> sending_{};
  std::array<std::byte*, PointToPointScratch::kRequests> receiving_{};
};

}  // namespace alphax::comm::detail
