#include "alphax/group_comm.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <utility>

namespace alphax::app {
namespace {

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(rc, text, &length);
    throw std::runtime_error(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
  }
}

}  // namespace

OwnedComm OwnedComm::dup(MPI_Comm parent) {
  MPI_Comm comm = MPI_COMM_NULL;
  check(MPI_Comm_dup(parent, &comm), "MPI_Comm_dup");
  return OwnedComm(comm);
}

OwnedComm OwnedComm::split(MPI_Comm parent, int color, int key) {
  MPI_Comm comm = MPI_COMM_NULL;
  check(MPI_Comm_split(parent, color, key, &comm), "MPI_Comm_split");
  return OwnedComm(comm);
}

OwnedComm::~OwnedComm() {
  if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
}

OwnedComm::OwnedComm(OwnedComm&& other) noexcept : comm_(std::exchange(other.comm_, MPI_COMM_NULL)) {}

OwnedComm& OwnedComm::operator=(OwnedComm&& other) noexcept {
  if (this != &other) {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    comm_ = std::exchange(other.comm_, MPI_COMM_NULL);
  }
  return *this;
}

int OwnedComm::rank() const {
  int r = 0;
  MPI_Comm_rank(comm_, &r);
  return r;
}

int OwnedComm::size() const {
  int s = 0;
  MPI_Comm_size(comm_, &s);
  return s;
}

std::vector<std::int64_t> WorkOrder::encode() const {
  std::vector<std::int64_t> words{kProtocolVersion, stop ? 1 : 0, exit_code, eval_id, with_weights ? 1 : 0,
                                  static_cast<std::int64_t>(genome.size())};
  words.insert(words.end(), genome.begin(), genome.end());
  return words;
}

WorkOrder WorkOrder::decode(const std::vector<std::int64_t>& words) {
  if (words.size() < 6) throw std::runtime_error("WorkOrder::decode: message of " + std::to_string(words.size()) + " words is too short");
  if (words[0] != kProtocolVersion)
    throw std::runtime_error("WorkOrder::decode: protocol version " + std::to_string(words[0]) + ", expected " +
                             std::to_string(kProtocolVersion) + "; run the same alphax binary on every rank");
  WorkOrder order;
  order.stop = words[1] != 0;
  order.exit_code = static_cast<int>(words[2]);
  order.eval_id = words[3];
  order.with_weights = words[4] != 0;
  const auto length = static_cast<std::size_t>(words[5]);
  if (words.size() != 6 + length) throw std::runtime_error("WorkOrder::decode: genome length does not match the message");
  order.genome.assign(words.begin() + 6, words.end());
  return order;
}

ResultMessage ResultMessage::from(std::int64_t eval_id, const search::EvalResult& result) {
  ResultMessage m;
  m.eval_id = eval_id;
  m.status = static_cast<std::int32_t>(result.status);
  m.objective = result.objective;
  m.report = result.report;
  m.params = result.params;
  m.flops = result.flops;
  m.train_seconds = result.train_seconds;
  const std::size_t n = std::min(result.message.size(), sizeof(m.message) - 1);
  std::memcpy(m.message, result.message.data(), n);
  return m;
}

search::EvalResult ResultMessage::to_result() const {
  if (version != kProtocolVersion)
    throw std::runtime_error("ResultMessage: protocol version " + std::to_string(version) + ", expected " +
                             std::to_string(kProtocolVersion) + "; run the same alphax binary on every rank");
  search::EvalResult r;
  r.status = static_cast<search::EvalStatus>(status);
  r.objective = objective;
  r.report = report;
  r.params = params;
  r.flops = flops;
  r.train_seconds = train_seconds;
  r.message.assign(message, strnlen(message, sizeof(message)));
  return r;
}

void send_work(const WorkOrder& order, int dest, MPI_Comm comm) {
  const auto words = order.encode();
  check(MPI_Send(words.data(), static_cast<int>(words.size()), MPI_INT64_T, dest, kTagWork, comm), "MPI_Send work");
}

WorkOrder receive_work(int source, MPI_Comm comm) {
  MPI_Status status;
  check(MPI_Probe(source, kTagWork, comm, &status), "MPI_Probe work");
  int count = 0;
  MPI_Get_count(&status, MPI_INT64_T, &count);
  std::vector<std::int64_t> words(static_cast<std::size_t>(count));
  check(MPI_Recv(words.data(), count, MPI_INT64_T, source, kTagWork, comm, MPI_STATUS_IGNORE), "MPI_Recv work");
  return WorkOrder::decode(words);
}

WorkOrder broadcast_work(const WorkOrder& order, comm::Communicator& group) {
  // The words are small integers (ids, ops): exact as doubles, the element type of the collectives.
  const auto words = order.encode();
  std::vector<double> size{static_cast<double>(words.size())};
  group.broadcast(std::span<double>(size), 0);
  std::vector<double> values(static_cast<std::size_t>(size[0]));
  if (group.rank() == 0) std::copy(words.begin(), words.end(), values.begin());
  group.broadcast(std::span<double>(values), 0);
  return WorkOrder::decode(std::vector<std::int64_t>(values.begin(), values.end()));
}

void send_bytes(std::span<const std::byte> bytes, int dest, int tag, MPI_Comm comm) {
  const auto count = static_cast<long long>(bytes.size());
  if (count > std::numeric_limits<int>::max())
    throw std::runtime_error("send_bytes: a message of " + std::to_string(count) + " bytes exceeds MPI's int count");
  check(MPI_Send(&count, 1, MPI_LONG_LONG, dest, tag, comm), "MPI_Send bytes size");
  if (count > 0) check(MPI_Send(bytes.data(), static_cast<int>(count), MPI_BYTE, dest, tag, comm), "MPI_Send bytes");
}

std::vector<std::byte> receive_bytes(int source, int tag, MPI_Comm comm) {
  long long count = 0;
  check(MPI_Recv(&count, 1, MPI_LONG_LONG, source, tag, comm, MPI_STATUS_IGNORE), "MPI_Recv bytes size");
  std::vector<std::byte> bytes(static_cast<std::size_t>(count));
  if (count > 0)
    check(MPI_Recv(bytes.data(), static_cast<int>(count), MPI_BYTE, source, tag, comm, MPI_STATUS_IGNORE), "MPI_Recv bytes");
  return bytes;
}

std::string broadcast_string(const std::string& text, MPI_Comm comm) {
  long long size = static_cast<long long>(text.size());
  check(MPI_Bcast(&size, 1, MPI_LONG_LONG, 0, comm), "MPI_Bcast string size");
  std::string out = text;
  out.resize(static_cast<std::size_t>(size));
  if (size > 0) check(MPI_Bcast(out.data(), static_cast<int>(size), MPI_CHAR, 0, comm), "MPI_Bcast string");
  return out;
}

}  // namespace alphax::app
