#include <algorithm>
#include <array>
#include <climits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "alphax/comm/communicator.hpp"
#include "alphax/comm/cost_model.hpp"
#include "nccl_backend.hpp"
#include "p2p_links.hpp"
#include "pipelines.hpp"
#include "shm_links.hpp"

namespace alphax::comm {
namespace {

constexpr int kTagPingPong = 7300;

void check_mpi(int rc, const char* call) {
  if (rc != MPI_SUCCESS) {
    std::array<char, MPI_MAX_ERROR_STRING> text{};
    int length = 0;
    MPI_Error_string(rc, text.data(), &length);
    throw std::runtime_error(std::string("alphax::comm::MpiCommunicator: ") + call +
                             " failed: " + std::string(text.data(), static_cast<std::size_t>(length)));
  }
}

MPI_Datatype mpi_type(DataType type) { return type == DataType::float32 ? MPI_FLOAT : MPI_DOUBLE; }

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::sum:
      return MPI_SUM;
    case ReduceOp::max:
      return MPI_MAX;
    case ReduceOp::min:
      return MPI_MIN;
  }
  return MPI_SUM;
}

int mpi_count(std::size_t count, const char* function) {
  if (count > static_cast<std::size_t>(INT_MAX))
    throw std::invalid_argument(std::string("alphax::comm::MpiCommunicator::") + function + ": count " +
                                std::to_string(count) +
                                " exceeds INT_MAX for algorithm 'mpi'; use lp or ring");
  return static_cast<int>(count);
}

// Seconds per round trip of `bytes` between ranks 0 and 1, the best of `repeats` (others idle).
double ping_pong_seconds(MPI_Comm comm, int rank, std::vector<char>& buffer, int bytes, int repeats) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const double start = MPI_Wtime();
    if (rank == 0) {
      check_mpi(MPI_Send(buffer.data(), bytes, MPI_BYTE, 1, kTagPingPong, comm), "MPI_Send");
      check_mpi(MPI_Recv(buffer.data(), bytes, MPI_BYTE, 1, kTagPingPong, comm, MPI_STATUS_IGNORE),
                "MPI_Recv");
    } else if (rank == 1) {
      check_mpi(MPI_Recv(buffer.data(), bytes, MPI_BYTE, 0, kTagPingPong, comm, MPI_STATUS_IGNORE),
                "MPI_Recv");
      check_mpi(MPI_Send(buffer.data(), bytes, MPI_BYTE, 0, kTagPingPong, comm), "MPI_Send");
    }
    best = std::min(best, MPI_Wtime() - start);
  }
  return best;
}

// Shared-memory rings when every rank is on one node and the library can make a shared window;
// null (point-to-point) otherwise. An explicit Transport::shared_memory that cannot be had is an
// error rather than a silent fallback.
std::unique_ptr<detail::SharedRings> make_shared_rings(MPI_Comm comm, int rank, int size,
                                                       Transport requested) {
  if (requested == Transport::point_to_point || size == 1) return nullptr;
  const bool one_node = detail::all_on_one_node(comm);
  if (requested == Transport::shared_memory && !one_node)
    throw std::invalid_argument(
        "alphax::comm::MpiCommunicator: transport 'shm' needs every rank on one node but this communicator "
        "spans several; use Transport::point_to_point or automatic");
  if (!one_node) return nullptr;
  auto rings = std::make_unique<detail::SharedRings>(comm, rank, size);
  if (rings->available()) return rings;
  if (requested == Transport::shared_memory)
    throw std::runtime_error(
        "alphax::comm::MpiCommunicator: transport 'shm' needs an MPI-3 shared-memory window, which this MPI "
        "library could not make (Open MPI: is the osc/sm component excluded, e.g. by --mca osc?); use "
        "Transport::automatic (it falls back to point-to-point) or Transport::point_to_point");
  return nullptr;
}

}  // namespace

LinkModel measure_link(MPI_Comm comm) {
  int rank = 0;
  int size = 1;
  check_mpi(MPI_Comm_rank(comm, &rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(comm, &size), "MPI_Comm_size");
  if (size < 2) return {};
  // β from the difference of two large sizes: it cancels α and any token-bucket burst that lets
  // the first bytes of a shaped link through at line rate.
  constexpr int kSmall = 8;
  constexpr int kLarge = 1 << 20;
  std::array<double, 2> model{0.0, 0.0};
  if (rank <= 1) {
    std::vector<char> buffer(2 * kLarge, 1);
    ping_pong_seconds(comm, rank, buffer, 2 * kLarge, 1);  // warm-up: connections, page faults
    const double small = ping_pong_seconds(comm, rank, buffer, kSmall, 20) / 2.0;
    const double large = ping_pong_seconds(comm, rank, buffer, kLarge, 3) / 2.0;
    const double larger = ping_pong_seconds(comm, rank, buffer, 2 * kLarge, 3) / 2.0;
    double beta = (larger - large) / kLarge;
    if (!(beta > 0.0)) beta = larger / (2.0 * kLarge);
    model[0] = std::max(small, 1e-7);
    model[1] = std::max(beta, 1e-12);
  }
  check_mpi(MPI_Bcast(model.data(), 2, MPI_DOUBLE, 0, comm), "MPI_Bcast");
  return {model[0], model[1]};
}

struct MpiCommunicator::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  CommunicatorOptions options;
  LinkModel link;
  Transport transport = Transport::point_to_point;
  detail::PointToPointScratch scratch;
  std::unique_ptr<detail::SharedRings> shared;  // with Transport::shared_memory; freed before comm
  detail::NcclContextPtr nccl;  // created on the first nccl call (collective), destroyed before comm

  detail::Place place() const { return {rank, size}; }
  detail::NcclContext& nccl_context() {
    if (!nccl) nccl = detail::make_nccl_context(comm, rank, size);
    return *nccl;
  }
  // Runs `pipeline(place, links)` on this call's links of the transport in use; the links are
  // views of buffers allocated at creation, so a call allocates nothing.
  template <class Pipeline>
  void with_links(std::size_t block_bytes, Pipeline&& pipeline) {
    if (shared) {
      detail::SharedMemoryLinks links(*shared);
      pipeline(place(), links);
    } else {
      detail::PointToPointLinks links(detail::Group{comm, rank, size}, scratch,
                                      detail::idle_sleep_seconds(block_bytes, link));
      pipeline(place(), links);
    }
  }
  ~Impl() {
    nccl.reset();
    shared.reset();
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (comm != MPI_COMM_NULL && !finalized) MPI_Comm_free(&comm);
  }
};

MpiCommunicator::MpiCommunicator(MPI_Comm comm, CommunicatorOptions options)
    : impl_(std::make_unique<Impl>()) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized)
    throw std::runtime_error(
        "alphax::comm::MpiCommunicator: MPI is not initialised; call MPI_Init first or use "
        "SerialCommunicator");
  check_mpi(MPI_Comm_dup(comm, &impl_->comm), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(impl_->comm, MPI_ERRORS_RETURN);
  check_mpi(MPI_Comm_rank(impl_->comm, &impl_->rank), "MPI_Comm_rank");
  check_mpi(MPI_Comm_size(impl_->comm, &impl_->size), "MPI_Comm_size");
  impl_->options = std::move(options);
  impl_->link = impl_->options.link ? *impl_->options.link : measure_link(impl_->comm);
  impl_->shared = make_shared_rings(impl_->comm, impl_->rank, impl_->size, impl_->options.transport);
  impl_->transport = impl_->shared ? Transport::shared_memory : Transport::point_to_point;
}

MpiCommunicator::~MpiCommunicator() = default;
MpiCommunicator::MpiCommunicator(MpiCommunicator&& other) noexcept
    : Communicator(), impl_(std::move(other.impl_)) {}
MpiCommunicator& MpiCommunicator::operator=(MpiCommunicator&& other) noexcept {
  impl_ = std::move(other.impl_);
  return *this;
}

int MpiCommunicator::rank() const { return impl_->rank; }
int MpiCommunicator::size() const { return impl_->size; }
void MpiCommunicator::barrier() { check_mpi(MPI_Barrier(impl_->comm), "MPI_Barrier"); }
LinkModel MpiCommunicator::link_model() const { return impl_->link; }
const CommunicatorOptions& MpiCommunicator::options() const { return impl_->options; }
Transport MpiCommunicator::transport() const { return impl_->transport; }

std::size_t MpiCommunicator::max_block_bytes(Collective collective) const {
  const std::size_t limit = Communicator::max_block_bytes(collective);
  return impl_->shared ? std::min(limit, detail::kSharedSlotBytes) : limit;
}
MPI_Comm MpiCommunicator::native_handle() const { return impl_->comm; }

std::unique_ptr<Communicator> MpiCommunicator::split(int color, int key) const {
  MPI_Comm part = MPI_COMM_NULL;
  check_mpi(MPI_Comm_split(impl_->comm, color, key, &part), "MPI_Comm_split");
  if (part == MPI_COMM_NULL) return nullptr;
  CommunicatorOptions options = impl_->options;
  options.link = impl_->link;
  auto result = std::make_unique<MpiCommunicator>(part, std::move(options));  // duplicates `part`
  MPI_Comm_free(&part);
  return result;
}

void MpiCommunicator::do_broadcast(void* data, std::size_t count, DataType type, int root,
                                   Algorithm algorithm) {
  Impl& s = *impl_;
  switch (algorithm) {
    case Algorithm::mpi:
      check_mpi(MPI_Bcast(data, mpi_count(count, "broadcast"), mpi_type(type), root, s.comm), "MPI_Bcast");
      return;
    case Algorithm::nccl:
      detail::nccl_broadcast(s.nccl_context(), data, count, type, root);
      return;
    default: {
      const std::size_t block = block_bytes_for(Collective::broadcast, count * size_of(type));
      s.with_links(block, [&](const detail::Place& place, detail::Links& links) {
        detail::lp_broadcast(place, links, data, count, type, root, block);
      });
    }
  }
}

void MpiCommunicator::do_reduce(const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                                int root, Algorithm algorithm) {
  Impl& s = *impl_;
  switch (algorithm) {
    case Algorithm::mpi: {
      const void* source = (s.rank == root && send == recv) ? MPI_IN_PLACE : send;
      check_mpi(
          MPI_Reduce(source, recv, mpi_count(count, "reduce"), mpi_type(type), mpi_op(op), root, s.comm),
          "MPI_Reduce");
      return;
    }
    case Algorithm::nccl:
      detail::nccl_reduce(s.nccl_context(), send, recv, count, type, op, root);
      return;
    default: {
      const std::size_t block = block_bytes_for(Collective::reduce, count * size_of(type));
      s.with_links(block, [&](const detail::Place& place, detail::Links& links) {
        detail::lp_reduce(place, links, send, recv, count, type, op, root, block);
      });
    }
  }
}

void MpiCommunicator::do_allreduce(const void* send, void* recv, std::size_t count, DataType type,
                                   ReduceOp op, Algorithm algorithm) {
  Impl& s = *impl_;
  const std::size_t block = block_bytes_for(Collective::allreduce, count * size_of(type), algorithm);
  switch (algorithm) {
    case Algorithm::mpi: {
      const void* source = send == recv ? MPI_IN_PLACE : send;
      check_mpi(
          MPI_Allreduce(source, recv, mpi_count(count, "allreduce"), mpi_type(type), mpi_op(op), s.comm),
          "MPI_Allreduce");
      return;
    }
    case Algorithm::nccl:
      detail::nccl_allreduce(s.nccl_context(), send, recv, count, type, op);
      return;
    case Algorithm::ring:
      s.with_links(block, [&](const detail::Place& place, detail::Links& links) {
        detail::ring_allreduce(place, links, send, recv, count, type, op, block);
      });
      return;
    default:
      s.with_links(block, [&](const detail::Place& place, detail::Links& links) {
        detail::lp_allreduce(place, links, send, recv, count, type, op, block);
      });
  }
}

std::unique_ptr<Communicator> make_world_communicator(CommunicatorOptions options) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  int size = 1;
  if (initialized) MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size > 1) return std::make_unique<MpiCommunicator>(MPI_COMM_WORLD, std::move(options));
  return std::make_unique<SerialCommunicator>(std::move(options));
}

}  // namespace alphax::comm
