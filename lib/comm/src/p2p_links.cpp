#include "p2p_links.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>

#include "alphax/comm/cost_model.hpp"

namespace alphax::comm::detail {
namespace {

constexpr int kTagToNext = 7302;
constexpr int kTagToPrev = 7301;

void check_mpi(int rc, const char* call) {
  if (rc != MPI_SUCCESS)
    throw std::runtime_error(std::string("alphax::comm pipeline: ") + call + " failed with MPI error code " +
                             std::to_string(rc) +
                             "; check the MPI installation and that every rank called the "
                             "same collective with the same count");
}

int tag(Flow flow) { return flow == Flow::to_next ? kTagToNext : kTagToPrev; }

}  // namespace

PointToPointScratch::PointToPointScratch()
    : slot_bytes_(kMaxReduceBlockBytes),
      storage_(static_cast<std::size_t>(kRequests) * kMaxReduceBlockBytes + 64),
      requests_(kRequests, MPI_REQUEST_NULL),
      indices_(kRequests) {
  const auto address = reinterpret_cast<std::uintptr_t>(storage_.data());
  base_ = storage_.data() + ((64 - address % 64) % 64);
}

std::byte* PointToPointScratch::slot(Flow flow, bool send, int index) {
  const auto i = (static_cast<std::size_t>(flow) * 2 + (send ? 1 : 0)) * kPipelineDepth +
                 static_cast<std::size_t>(index);
  return base_ + i * slot_bytes_;
}

double idle_sleep_seconds(std::size_t block_bytes, const LinkModel& link) {
  constexpr double kShortest = 100e-6;
  constexpr double kLongest = 1e-3;
  const double quarter_block = 0.25 * static_cast<double>(block_bytes) * link.beta_s_per_byte;
  return quarter_block < kShortest ? 0.0 : std::min(quarter_block, kLongest);
}

PointToPointLinks::PointToPointLinks(const Group& group, PointToPointScratch& scratch, double idle_sleep_s)
    : comm_(group.comm),
      rank_(group.rank),
      size_(group.size),
      scratch_(scratch),
      idle_sleep_s_(idle_sleep_s) {
  std::fill(scratch_.requests(), scratch_.requests() + PointToPointScratch::kRequests, MPI_REQUEST_NULL);
}

int PointToPointLinks::index(Flow flow, bool send, std::size_t seq) {
  return (static_cast<int>(flow) * 2 + (send ? 1 : 0)) * kPipelineDepth +
         static_cast<int>(seq % kPipelineDepth);
}

int PointToPointLinks::destination(Flow flow) const {
  return flow == Flow::to_next ? (rank_ + 1) % size_ : (rank_ - 1 + size_) % size_;
}

int PointToPointLinks::source(Flow flow) const {
  return flow == Flow::to_next ? (rank_ - 1 + size_) % size_ : (rank_ + 1) % size_;
}

bool PointToPointLinks::can_send(Flow flow, std::size_t seq) {
  MPI_Request& r = request(flow, true, seq);
  if (r == MPI_REQUEST_NULL) return true;
  int flag = 0;
  check_mpi(MPI_Test(&r, &flag, MPI_STATUS_IGNORE), "MPI_Test");
  return flag != 0;
}

std::byte* PointToPointLinks::send_buffer(Flow flow, std::size_t seq) {
  return scratch_.slot(flow, true, static_cast<int>(seq % kPipelineDepth));
}

void PointToPointLinks::send(Flow flow, std::size_t seq, const std::byte* data, std::size_t bytes) {
  const int i = index(flow, true, seq);
  check_mpi(MPI_Isend(data, static_cast<int>(bytes), MPI_BYTE, destination(flow), tag(flow), comm_,
                      &scratch_.requests()[i]),
            "MPI_Isend");
  sending_[static_cast<std::size_t>(i)] = {data, data + bytes};
}

bool PointToPointLinks::send_reads(const std::byte* data, std::size_t bytes) {
  for (int flow = 0; flow < kFlows; ++flow)
    for (int k = 0; k < kPipelineDepth; ++k) {
      const int i = index(static_cast<Flow>(flow), true, static_cast<std::size_t>(k));
      const Region& region = sending_[static_cast<std::size_t>(i)];
      if (region.begin < data + bytes && data < region.end &&
          !can_send(static_cast<Flow>(flow), static_cast<std::size_t>(k)))
        return true;
    }
  return false;
}

void PointToPointLinks::post_receive(Flow flow, std::size_t seq, std::byte* target, std::size_t bytes) {
  const int i = index(flow, false, seq);
  std::byte* into =
      target != nullptr ? target : scratch_.slot(flow, false, static_cast<int>(seq % kPipelineDepth));
  check_mpi(MPI_Irecv(into, static_cast<int>(bytes), MPI_BYTE, source(flow), tag(flow), comm_,
                      &scratch_.requests()[i]),
            "MPI_Irecv");
  receiving_[static_cast<std::size_t>(i)] = into;
}

bool PointToPointLinks::receive_complete(Flow flow, std::size_t seq) {
  MPI_Request& r = request(flow, false, seq);
  if (r == MPI_REQUEST_NULL) return true;
  int flag = 0;
  check_mpi(MPI_Test(&r, &flag, MPI_STATUS_IGNORE), "MPI_Test");
  return flag != 0;
}

const std::byte* PointToPointLinks::received(Flow flow, std::size_t seq) {
  return receiving_[static_cast<std::size_t>(index(flow, false, seq))];
}

void PointToPointLinks::wait() {
  int completed = 0;
  if (idle_sleep_s_ == 0.0) {
    check_mpi(MPI_Waitsome(PointToPointScratch::kRequests, scratch_.requests(), &completed,
                           scratch_.indices(), MPI_STATUSES_IGNORE),
              "MPI_Waitsome");
  } else {
    // A few quick polls first: a completion is often only a progress call away.
    constexpr int kPollsBeforeSleeping = 16;
    for (int polls = 0;; ++polls) {
      check_mpi(MPI_Testsome(PointToPointScratch::kRequests, scratch_.requests(), &completed,
                             scratch_.indices(), MPI_STATUSES_IGNORE),
                "MPI_Testsome");
      if (completed != 0) break;
      if (polls >= kPollsBeforeSleeping)
        std::this_thread::sleep_for(std::chrono::duration<double>(idle_sleep_s_));
    }
  }
  if (completed == MPI_UNDEFINED)
    throw std::logic_error("alphax::comm pipeline: nothing in flight while work remains (a bug in lib/comm)");
}

void PointToPointLinks::finish() {
  check_mpi(MPI_Waitall(PointToPointScratch::kRequests, scratch_.requests(), MPI_STATUSES_IGNORE),
            "MPI_Waitall");
}

}  // namespace alphax::comm::detail
