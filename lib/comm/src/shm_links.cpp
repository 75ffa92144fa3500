#include "shm_links.hpp"

#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

namespace alphax::comm::detail {
namespace {

static_assert(
    std::atomic<std::uint64_t>::is_always_lock_free,
    "the shared-memory transport needs lock-free 64-bit atomics (they live in memory shared by processes)");

constexpr std::size_t kLine = 64;
constexpr std::size_t kHeaderBytes = 4096;  // head and tail of both flows, each on its own cache line
constexpr std::size_t kRingBytes = kSharedSlots * kSharedSlotBytes;
constexpr std::size_t kSegmentBytes = kHeaderBytes + kFlows * kRingBytes;

void check_mpi(int rc, const char* call) {
  if (rc != MPI_SUCCESS)
    throw std::runtime_error(std::string("alphax::comm shared-memory transport: ") + call +
                             " failed with MPI error code " + std::to_string(rc) +
                             "; use CommunicatorOptions::transport = Transport::point_to_point");
}

SharedRings::Ring ring_in(std::byte* segment, Flow flow) {
  const auto f = static_cast<std::size_t>(flow);
  return {reinterpret_cast<std::atomic<std::uint64_t>*>(segment + (2 * f) * kLine),
          reinterpret_cast<std::atomic<std::uint64_t>*>(segment + (2 * f + 1) * kLine),
          segment + kHeaderBytes + f * kRingBytes};
}

// A short busy wait; a CPU hint where the architecture has one.
void relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Whether this rank may keep a core busy while it waits, as far as the job's launcher says: not
// when the user asked the MPI library to yield when idle (Open MPI: mpi_yield_when_idle), nor when
// the launcher put more ranks of the job on this node (Open MPI: OMPI_COMM_WORLD_LOCAL_SIZE,
// MPICH's Hydra: MPI_LOCALNRANKS) than it has CPUs online. The latter catches a node shared by
// several trainer groups, which the group's own ranks cannot see.
bool launcher_allows_spinning() {
  const char* yield = std::getenv("OMPI_MCA_mpi_yield_when_idle");
  if (yield != nullptr && std::strcmp(yield, "0") != 0 && std::strcmp(yield, "false") != 0) return false;
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}) {
    const char* value = std::getenv(name);
    if (value != nullptr) return std::strtol(value, nullptr, 10) <= sysconf(_SC_NPROCESSORS_ONLN);
  }
  return true;
}

// Whether every rank of `comm` may spin while it waits (collective, the same answer everywhere):
// the union of the ranks' CPU affinity masks holds at least one CPU per rank (counting the CPUs
// the ranks may run on, not the CPUs online, gets cpusets, containers and ranks bound to cores
// right) and no rank's launcher says otherwise.
bool ranks_have_own_cores(MPI_Comm comm, int size) {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (sched_getaffinity(0, sizeof cpus, &cpus) != 0) CPU_SET(0, &cpus);
  static_assert(sizeof(cpu_set_t) % sizeof(unsigned long) == 0);
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &cpus, static_cast<int>(sizeof(cpu_set_t) / sizeof(unsigned long)),
                          MPI_UNSIGNED_LONG, MPI_BOR, comm),
            "MPI_Allreduce");
  int may_spin = launcher_allows_spinning() ? 1 : 0;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &may_spin, 1, MPI_INT, MPI_LAND, comm), "MPI_Allreduce");
  return may_spin != 0 && size <= CPU_COUNT(&cpus);
}

}  // namespace

bool all_on_one_node(MPI_Comm comm) {
  MPI_Comm node = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  int node_size = 0;
  int size = 0;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_size(comm, &size);
  MPI_Comm_free(&node);
  int one_node = node_size == size ? 1 : 0;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &one_node, 1, MPI_INT, MPI_LAND, comm), "MPI_Allreduce");
  return one_node != 0;
}

SharedRings::SharedRings(MPI_Comm comm, int rank, int size) {
  int mapped = map_rings(comm, rank, size) ? 1 : 0;
  check_mpi(MPI_Allreduce(MPI_IN_PLACE, &mapped, 1, MPI_INT, MPI_LAND, comm), "MPI_Allreduce");
  if (mapped == 0) {
    release();
    return;
  }
  spin_ = ranks_have_own_cores(comm, size);
  // Nobody may touch a neighbour's counters before the neighbour has constructed them.
  check_mpi(MPI_Barrier(comm), "MPI_Barrier");
}

// This rank's part of the window setup; false (and nothing thrown) when the library refuses, so
// that every rank can still take part in the agreement.
bool SharedRings::map_rings(MPI_Comm comm, int rank, int size) {
  MPI_Info info = MPI_INFO_NULL;
  MPI_Info_create(&info);
  MPI_Info_set(info, "alloc_shared_noncontig", "true");  // each segment in its owner's NUMA domain
  std::byte* mine = nullptr;
  const int rc =
      MPI_Win_allocate_shared(static_cast<MPI_Aint>(kSegmentBytes), 1, info, comm, &mine, &window_);
  MPI_Info_free(&info);
  if (rc != MPI_SUCCESS || window_ == MPI_WIN_NULL || mine == nullptr) return false;
  MPI_Win_set_errhandler(window_, MPI_ERRORS_RETURN);  // windows default to aborting the job
  if (MPI_Win_lock_all(MPI_MODE_NOCHECK, window_) != MPI_SUCCESS) return false;
  locked_ = true;
  for (int f = 0; f < kFlows; ++f) {
    const Ring own = ring_in(mine, static_cast<Flow>(f));
    new (own.head) std::atomic<std::uint64_t>(0);
    new (own.tail) std::atomic<std::uint64_t>(0);
  }
  const int next = (rank + 1) % size;
  const int prev = (rank - 1 + size) % size;
  for (int f = 0; f < kFlows; ++f) {
    const auto flow = static_cast<Flow>(f);
    // On to_next this rank receives from prev's ring; on to_prev from next's.
    MPI_Aint bytes = 0;
    int unit = 0;
    void* base = nullptr;
    if (MPI_Win_shared_query(window_, flow == Flow::to_next ? prev : next, &bytes, &unit, &base) !=
            MPI_SUCCESS ||
        base == nullptr || bytes < static_cast<MPI_Aint>(kSegmentBytes))
      return false;
    outgoing_[static_cast<std::size_t>(f)] = ring_in(mine, flow);
    incoming_[static_cast<std::size_t>(f)] = ring_in(static_cast<std::byte*>(base), flow);
  }
  return true;
}

void SharedRings::release() {
  if (window_ == MPI_WIN_NULL) return;
  if (locked_) MPI_Win_unlock_all(window_);
  locked_ = false;
  MPI_Win_free(&window_);
  window_ = MPI_WIN_NULL;
}

SharedRings::~SharedRings() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) release();
}

SharedMemoryLinks::SharedMemoryLinks(const SharedRings& rings) : spin_(rings.spin()) {
  for (int f = 0; f < kFlows; ++f) {
    State& s = states_[static_cast<std::size_t>(f)];
    s.out = rings.outgoing(static_cast<Flow>(f));
    s.in = rings.incoming(static_cast<Flow>(f));
    s.send_base = s.out.head->load(std::memory_order_relaxed);    // only this rank writes it
    s.receive_base = s.in.tail->load(std::memory_order_relaxed);  // only this rank writes it
  }
}

std::byte* SharedMemoryLinks::slot(const SharedRings::Ring& ring, std::uint64_t sequence) {
  return ring.slots + (sequence % kSharedSlots) * kSharedSlotBytes;
}

bool SharedMemoryLinks::can_send(Flow flow, std::size_t seq) {
  State& s = state(flow);
  return s.send_base + seq - s.out.tail->load(std::memory_order_acquire) < kSharedSlots;
}

std::byte* SharedMemoryLinks::send_buffer(Flow flow, std::size_t seq) {
  State& s = state(flow);
  return slot(s.out, s.send_base + seq);
}

void SharedMemoryLinks::send(Flow flow, std::size_t seq, const std::byte* data, std::size_t bytes) {
  if (bytes > kSharedSlotBytes)
    throw std::logic_error("alphax::comm shared-memory transport: block of " + std::to_string(bytes) +
                           " bytes exceeds a slot (a bug in lib/comm's block size clamp)");
  State& s = state(flow);
  std::byte* target = slot(s.out, s.send_base + seq);
  if (data != target && bytes > 0) std::memcpy(target, data, bytes);
  s.out.head->store(s.send_base + seq + 1, std::memory_order_release);
  idle_polls_ = 0;
}

void SharedMemoryLinks::post_receive(Flow flow, std::size_t seq, std::byte* target, std::size_t bytes) {
  state(flow).posted[seq % kSharedSlots] = {target, bytes};
}

bool SharedMemoryLinks::receive_complete(Flow flow, std::size_t seq) {
  State& s = state(flow);
  if (seq < s.completed) return true;
  const std::uint64_t sequence = s.receive_base + seq;
  if (s.in.head->load(std::memory_order_acquire) <= sequence) return false;
  const Posted& p = s.posted[seq % kSharedSlots];
  if (p.target != nullptr) {
    if (p.bytes > 0) std::memcpy(p.target, slot(s.in, sequence), p.bytes);
    s.in.tail->store(sequence + 1, std::memory_order_release);
  }
  s.completed = seq + 1;
  idle_polls_ = 0;
  return true;
}

const std::byte* SharedMemoryLinks::received(Flow flow, std::size_t seq) {
  State& s = state(flow);
  const Posted& p = s.posted[seq % kSharedSlots];
  return p.target != nullptr ? p.target : slot(s.in, s.receive_base + seq);
}

void SharedMemoryLinks::release(Flow flow, std::size_t seq) {
  State& s = state(flow);
  if (s.posted[seq % kSharedSlots].target == nullptr)
    s.in.tail->store(s.receive_base + seq + 1, std::memory_order_release);
}

// With a core per rank, spin: the neighbour is usually a block (microseconds) away, and a yield
// can hand the core to another process for a whole scheduler slice (milliseconds). Yield now and
// then all the same, so a neighbour that lost its core cannot be starved for long. With more
// ranks than cores (oversubscribed tests), yield after a few polls: the neighbour needs this core.
void SharedMemoryLinks::wait() {
  ++idle_polls_;
  if (spin_ ? idle_polls_ % 4096 == 0 : idle_polls_ >= 8) {
    sched_yield();
  } else {
    for (int i = 0; i < 32; ++i) relax();
  }
}

}  // namespace alphax::comm::detail
