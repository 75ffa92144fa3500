#pragma once
/// \file
/// \brief The job's communicators (RAII) and the small typed, versioned master <-> leader messages.
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "alphax/comm/communicator.hpp"
#include "alphax/search/evaluator.hpp"
#include "alphax/search/genome.hpp"

namespace alphax::app {

/// \brief Owns a communicator made by MPI_Comm_dup or MPI_Comm_split; frees it on destruction.
class OwnedComm {
 public:
  OwnedComm() = default;
  /// \brief A duplicate of `parent` (collective over `parent`).
  static OwnedComm dup(MPI_Comm parent);
  /// \brief MPI_Comm_split of `parent` (collective over `parent`).
  static OwnedComm split(MPI_Comm parent, int color, int key);
  ~OwnedComm();
  OwnedComm(const OwnedComm&) = delete;
  OwnedComm& operator=(const OwnedComm&) = delete;
  OwnedComm(OwnedComm&& other) noexcept;
  OwnedComm& operator=(OwnedComm&& other) noexcept;
  MPI_Comm get() const { return comm_; }
  int rank() const;
  int size() const;

 private:
  explicit OwnedComm(MPI_Comm comm) : comm_(comm) {}
  MPI_Comm comm_ = MPI_COMM_NULL;
};

/// \brief Version of the message layouts below; a mismatch is a hard error naming both versions.
inline constexpr std::int64_t kProtocolVersion = 2;
/// \brief Message tags on the control communicator (a dup of MPI_COMM_WORLD).
inline constexpr int kTagWork = 7001;    ///< master -> leader: evaluate / stop
inline constexpr int kTagResult = 7002;  ///< leader -> master: EvalResult
inline constexpr int kTagWeights = 7003; ///< master <-> leader: serialised network weights (weight transfer)

/// \brief A master -> group order, also broadcast inside the group.
struct WorkOrder {
  bool stop = false;
  int exit_code = 0;  ///< for stop: what every rank returns
  std::int64_t eval_id = 0;
  /// \brief Weight transfer: a kTagWeights message (the parent, maybe empty) follows this order,
  /// and the leader answers the result with one (the trained network, empty after a failure).
  bool with_weights = false;
  search::Genome genome;

  std::vector<std::int64_t> encode() const;
  /// \brief Throws std::runtime_error on a short message or another protocol version.
  static WorkOrder decode(const std::vector<std::int64_t>& words);
};

/// \brief The fixed-size wire form of an EvalResult (message truncated to 255 characters).
struct ResultMessage {
  std::int64_t version = kProtocolVersion;
  std::int64_t eval_id = 0;
  std::int32_t status = 0;
  std::int32_t reserved = 0;
  double objective = 0.0;
  double report = 0.0;
  std::int64_t params = 0;
  double flops = 0.0;
  double train_seconds = 0.0;
  char message[256] = {};

  static ResultMessage from(std::int64_t eval_id, const search::EvalResult& result);
  /// \brief Throws on another protocol version.
  search::EvalResult to_result() const;
};

/// \brief Blocking send of a WorkOrder to `dest` on `comm`.
void send_work(const WorkOrder& order, int dest, MPI_Comm comm);
/// \brief Blocking receive of a WorkOrder from `source` on `comm`.
WorkOrder receive_work(int source, MPI_Comm comm);
/// \brief Broadcast of a WorkOrder from rank 0 of `group` (the group's Linear Pipelining broadcast).
WorkOrder broadcast_work(const WorkOrder& order, comm::Communicator& group);
/// \brief Blocking send of a byte string (any length, also 0) to `dest` with `tag`.
void send_bytes(std::span<const std::byte> bytes, int dest, int tag, MPI_Comm comm);
/// \brief Blocking receive of a byte string sent by send_bytes.
std::vector<std::byte> receive_bytes(int source, int tag, MPI_Comm comm);
/// \brief Broadcast of a string from rank 0 of `comm`.
std::string broadcast_string(const std::string& text, MPI_Comm comm);

}  // namespace alphax::app
