#pragma once
/// \file
/// \brief Communicator: rank, size, split, barrier and the collectives (broadcast, reduce,
/// allreduce) with a choice of algorithm; an MPI implementation and a serial one.
#include <mpi.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>

#include "alphax/comm/types.hpp"

namespace alphax::comm {

/// \brief Colour that leaves a rank out of every group in Communicator::split.
inline constexpr int kUndefinedColor = MPI_UNDEFINED;

/// \brief Tuning of a communicator's own collectives.
struct CommunicatorOptions {
  /// \brief Block size of LP and ring pipelines in bytes; 0 picks b* from the α-β model per call.
  std::size_t block_bytes = 0;
  /// \brief Link model to use; when empty it is measured by a short ping-pong at creation.
  std::optional<LinkModel> link;
  /// \brief How lp and ring move blocks (MpiCommunicator only): automatic picks shared memory when
  /// every rank is on one node and the MPI library can make a shared window (point-to-point
  /// otherwise); shared_memory that cannot be had throws.
  Transport transport = Transport::automatic;
};

/// \brief A group of ranks and the collectives among them (abstract; see MpiCommunicator and
/// SerialCommunicator).
///
/// Every collective is called by every rank of the communicator with the same count, root,
/// operator and algorithm. Results are bit-identical from run to run for the same inputs: the lp
/// and ring algorithms reduce in a fixed order. Errors (negative count, root out of range,
/// aliasing buffers, unknown algorithm) throw std::invalid_argument before any communication.
class Communicator {
 public:
  virtual ~Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  /// \brief This process's rank in [0, size()).
  virtual int rank() const = 0;
  /// \brief Number of ranks P.
  virtual int size() const = 0;
  /// \brief Blocks until every rank has called it.
  virtual void barrier() = 0;
  /// \brief Collective: groups the ranks by `color`, ordered by `key`; returns nullptr on ranks
  /// that pass kUndefinedColor. The new communicator inherits this one's options and link model.
  virtual std::unique_ptr<Communicator> split(int color, int key) const = 0;
  /// \brief The α-β model in use (measured at creation or given in the options).
  virtual LinkModel link_model() const = 0;
  /// \brief The options this communicator was created with.
  virtual const CommunicatorOptions& options() const = 0;

  /// \brief What Algorithm::automatic resolves to for `collective` on `bytes` bytes here.
  Algorithm resolve(Collective collective, Algorithm requested, std::size_t bytes) const;
  /// \brief Pipeline block size in bytes used by `algorithm` (lp or ring) for `collective` on `bytes`
  /// bytes: CommunicatorOptions::block_bytes clamped to [64, max_block_bytes()] when set; otherwise
  /// for lp b* from the link model clamped to [kMinBlockBytes, max_block_bytes()], for ring
  /// kRingSegmentBytes (at most max_block_bytes()).
  std::size_t block_bytes_for(Collective collective, std::size_t bytes,
                              Algorithm algorithm = Algorithm::lp) const;
  /// \brief Largest pipeline block of `collective` this communicator moves.
  virtual std::size_t max_block_bytes(Collective collective) const;

  /// \brief Broadcast `count` elements at `data` from `root` to every rank.
  template <CommElement T>
  void broadcast(T* data, std::ptrdiff_t count, int root, Algorithm algorithm = Algorithm::automatic) {
    broadcast_bytes(data, count, data_type_of<T>(), root, algorithm);
  }
  /// \brief Broadcast of a span (same size on every rank).
  template <CommElement T>
  void broadcast(std::span<T> data, int root, Algorithm algorithm = Algorithm::automatic) {
    broadcast(data.data(), static_cast<std::ptrdiff_t>(data.size()), root, algorithm);
  }

  /// \brief Out-of-place reduce: `recv` at `root` gets op over every rank's `send`; `recv` is
  /// ignored elsewhere (it may be null there). `send` and `recv` must not overlap.
  template <CommElement T>
  void reduce(const T* send, T* recv, std::ptrdiff_t count, ReduceOp op, int root,
              Algorithm algorithm = Algorithm::automatic) {
    reduce_bytes(send, recv, count, data_type_of<T>(), op, root, algorithm);
  }
  /// \brief Out-of-place reduce of spans; `recv` must have send.size() elements at the root and
  /// may be empty elsewhere.
  template <CommElement T>
  void reduce(std::span<const T> send, std::span<T> recv, ReduceOp op, int root,
              Algorithm algorithm = Algorithm::automatic) {
    check_recv_span(send.size(), recv.size(), root, "reduce");
    reduce(send.data(), recv.empty() ? nullptr : recv.data(), static_cast<std::ptrdiff_t>(send.size()), op,
           root, algorithm);
  }
  /// \brief In-place reduce: the root's `inout` is replaced by the result; other ranks' `inout`
  /// is input only and left unchanged.
  template <CommElement T>
  void reduce(std::span<T> inout, ReduceOp op, int root, Algorithm algorithm = Algorithm::automatic) {
    reduce_bytes(inout.data(), inout.data(), static_cast<std::ptrdiff_t>(inout.size()), data_type_of<T>(), op,
                 root, algorithm, /*in_place=*/true);
  }

  /// \brief Out-of-place allreduce: every rank's `recv` gets op over every rank's `send`.
  /// `send` and `recv` must not overlap.
  template <CommElement T>
  void allreduce(const T* send, T* recv, std::ptrdiff_t count, ReduceOp op,
                 Algorithm algorithm = Algorithm::automatic) {
    allreduce_bytes(send, recv, count, data_type_of<T>(), op, algorithm);
  }
  /// \brief Out-of-place allreduce of equally sized spans.
  template <CommElement T>
  void allreduce(std::span<const T> send, std::span<T> recv, ReduceOp op,
                 Algorithm algorithm = Algorithm::automatic) {
    check_same_size(send.size(), recv.size(), "allreduce");
    allreduce(send.data(), recv.data(), static_cast<std::ptrdiff_t>(send.size()), op, algorithm);
  }
  /// \brief In-place allreduce: `inout` is replaced by op over every rank's `inout`.
  template <CommElement T>
  void allreduce(std::span<T> inout, ReduceOp op, Algorithm algorithm = Algorithm::automatic) {
    allreduce_bytes(inout.data(), inout.data(), static_cast<std::ptrdiff_t>(inout.size()), data_type_of<T>(),
                    op, algorithm, /*in_place=*/true);
  }

 protected:
  Communicator() = default;

  /// \brief Validated broadcast; `algorithm` is never automatic here.
  virtual void do_broadcast(void* data, std::size_t count, DataType type, int root, Algorithm algorithm) = 0;
  /// \brief Validated reduce; `send == recv` means in place at the root.
  virtual void do_reduce(const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                         int root, Algorithm algorithm) = 0;
  /// \brief Validated allreduce; `send == recv` means in place.
  virtual void do_allreduce(const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                            Algorithm algorithm) = 0;

 private:
  void broadcast_bytes(void* data, std::ptrdiff_t count, DataType type, int root, Algorithm algorithm);
  void reduce_bytes(const void* send, void* recv, std::ptrdiff_t count, DataType type, ReduceOp op, int root,
                    Algorithm algorithm, bool in_place = false);
  void allreduce_bytes(const void* send, void* recv, std::ptrdiff_t count, DataType type, ReduceOp op,
                       Algorithm algorithm, bool in_place = false);
  void check_recv_span(std::size_t send_size, std::size_t recv_size, int root, const char* function) const;
  static void check_same_size(std::size_t send_size, std::size_t recv_size, const char* function);
};

/// \brief The single-process communicator: rank 0 of 1, no MPI calls at all. Collectives copy
/// (out of place) or do nothing (in place); broadcast and reduce accept only root 0.
class SerialCommunicator final : public Communicator {
 public:
  explicit SerialCommunicator(CommunicatorOptions options = {});
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void barrier() override {}
  std::unique_ptr<Communicator> split(int color, int key) const override;
  LinkModel link_model() const override;
  const CommunicatorOptions& options() const override { return options_; }

 protected:
  void do_broadcast(void* data, std::size_t count, DataType type, int root, Algorithm algorithm) override;
  void do_reduce(const void* send, void* recv, std::size_t count, DataType type, ReduceOp op, int root,
                 Algorithm algorithm) override;
  void do_allreduce(const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                    Algorithm algorithm) override;

 private:
  CommunicatorOptions options_;
};

/// \brief The MPI communicator: owns an MPI_Comm_dup of the communicator it is given (freed in
/// the destructor), so its traffic never matches the application's messages. Move-only.
///
/// Creation is collective; it measures α and β with a short ping-pong between ranks 0 and 1
/// unless CommunicatorOptions::link is set, and allocates the pipeline scratch buffers once (and,
/// with the shared-memory transport, the shared window of block slots). Throws
/// std::invalid_argument when Transport::shared_memory is asked for ranks on several nodes.
class MpiCommunicator final : public Communicator {
 public:
  /// \brief Collective over `comm`: duplicates it.
  explicit MpiCommunicator(MPI_Comm comm, CommunicatorOptions options = {});
  ~MpiCommunicator() override;
  MpiCommunicator(MpiCommunicator&& other) noexcept;
  MpiCommunicator& operator=(MpiCommunicator&& other) noexcept;

  int rank() const override;
  int size() const override;
  void barrier() override;
  std::unique_ptr<Communicator> split(int color, int key) const override;
  LinkModel link_model() const override;
  const CommunicatorOptions& options() const override;
  std::size_t max_block_bytes(Collective collective) const override;
  /// \brief The transport lp and ring use here (never automatic): resolved at creation.
  Transport transport() const;
  /// \brief The duplicated MPI communicator (owned by this object; do not free it).
  MPI_Comm native_handle() const;

 protected:
  void do_broadcast(void* data, std::size_t count, DataType type, int root, Algorithm algorithm) override;
  void do_reduce(const void* send, void* recv, std::size_t count, DataType type, ReduceOp op, int root,
                 Algorithm algorithm) override;
  void do_allreduce(const void* send, void* recv, std::size_t count, DataType type, ReduceOp op,
                    Algorithm algorithm) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// \brief A communicator over MPI_COMM_WORLD when MPI is initialised with more than one rank,
/// otherwise a SerialCommunicator.
std::unique_ptr<Communicator> make_world_communicator(CommunicatorOptions options = {});

/// \brief Measures α and β between ranks 0 and 1 of `comm` with a ping-pong (collective; every
/// rank returns rank 0's measurement; {0, 0} when P = 1).
LinkModel measure_link(MPI_Comm comm);

}  // namespace alphax::comm
