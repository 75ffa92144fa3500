// The collectives of MpiCommunicator against MPI's own, at every rank count the test is run with.
#include <gtest/gtest.h>
#include <mpi.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "alphax/comm/communicator.hpp"
#include "alphax/comm/cost_model.hpp"

namespace alphax::comm {
namespace {

// Every test runs on both transports: point-to-point is what runs across nodes, shared memory
// what runs within one (all test ranks share this node).
const std::vector<Transport> kTransports{Transport::point_to_point, Transport::shared_memory};

// Small blocks make even short buffers travel as many pipeline blocks; a given link model skips
// the ping-pong so each test creates its communicator cheaply.
CommunicatorOptions small_blocks(Transport transport = Transport::automatic) {
  CommunicatorOptions options;
  options.block_bytes = 256;
  options.link = LinkModel{1e-6, 1e-9};
  options.transport = transport;
  return options;
}

int world_rank() {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

int world_size() {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  return size;
}

template <class T>
MPI_Datatype mpi_type() {
  return std::is_same_v<T, float> ? MPI_FLOAT : MPI_DOUBLE;
}

MPI_Op mpi_op(ReduceOp op) {
  return op == ReduceOp::sum ? MPI_SUM : (op == ReduceOp::max ? MPI_MAX : MPI_MIN);
}

// Small integers: their sums are exact in any order, so results must equal MPI's bit for bit.
template <class T>
std::vector<T> random_integers(std::size_t n, unsigned seed) {
  std::mt19937 engine(seed);
  std::uniform_int_distribution<int> value(-8, 8);
  std::vector<T> data(n);
  for (auto& x : data) x = static_cast<T>(value(engine));
  return data;
}

template <class T>
std::vector<T> random_reals(std::size_t n, unsigned seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<T> value(-1, 1);
  std::vector<T> data(n);
  for (auto& x : data) x = value(engine);
  return data;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

const std::vector<std::size_t> kSizes{0, 1, 2, 3, 5, 17, 127, 1031, 4099};
const std::vector<ReduceOp> kOps{ReduceOp::sum, ReduceOp::max, ReduceOp::min};

template <class T>
class CollectivesTyped : public ::testing::Test {};
using ElementTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(CollectivesTyped, ElementTypes);

TYPED_TEST(CollectivesTyped, BroadcastDeliversTheRootBufferForEveryRootSizeAndAlgorithm) {
  using T = TypeParam;
  for (Transport transport : kTransports) {
    MpiCommunicator comm(MPI_COMM_WORLD, small_blocks(transport));
    for (Algorithm algorithm : {Algorithm::lp, Algorithm::mpi, Algorithm::automatic})
      for (int root = 0; root < comm.size(); ++root)
        for (std::size_t n : kSizes) {
          const auto expected =
              random_reals<T>(n, 1000u * static_cast<unsigned>(root) + static_cast<unsigned>(n));
          std::vector<T> data = comm.rank() == root ? expected : std::vector<T>(n, T(-99));
          comm.broadcast(std::span<T>(data), root, algorithm);
          ASSERT_TRUE(same_bits(data, expected)) << to_string(transport) << " algorithm "
                                                 << to_string(algorithm) << " root " << root << " n " << n;
        }
  }
}

TYPED_TEST(CollectivesTyped, ReduceMatchesMpiReduceForEveryRootSizeOpAndAlgorithm) {
  using T = TypeParam;
  for (Transport transport : kTransports) {
    MpiCommunicator comm(MPI_COMM_WORLD, small_blocks(transport));
    for (Algorithm algorithm : {Algorithm::lp, Algorithm::mpi, Algorithm::automatic})
      for (ReduceOp op : kOps)
        for (int root = 0; root < comm.size(); ++root)
          for (std::size_t n : kSizes) {
            const auto input =
                random_integers<T>(n, 7u * static_cast<unsigned>(comm.rank()) + static_cast<unsigned>(n));
            std::vector<T> reference(n, T(0));
            MPI_Reduce(input.data(), reference.data(), static_cast<int>(n), mpi_type<T>(), mpi_op(op), root,
                       MPI_COMM_WORLD);
            const bool at_root = comm.rank() == root;
            std::vector<T> out(at_root ? n : 0, T(-99));
            comm.reduce(std::span<const T>(input), std::span<T>(out), op, root, algorithm);
            if (at_root) {
              ASSERT_TRUE(same_bits(out, reference))
                  << to_string(transport) << " out of place, algorithm " << to_string(algorithm) << " op "
                  << to_string(op) << " root " << root << " n " << n;
            }
            std::vector<T> inout = input;
            comm.reduce(std::span<T>(inout), op, root, algorithm);
            ASSERT_TRUE(same_bits(inout, at_root ? reference : input))
                << to_string(transport) << " in place, algorithm " << to_string(algorithm) << " op "
                << to_string(op) << " root " << root << " n " << n;
          }
  }
}

TYPED_TEST(CollectivesTyped, AllreduceMatchesMpiAllreduceForEverySizeOpAndAlgorithm) {
  using T = TypeParam;
  for (Transport transport : kTransports) {
    MpiCommunicator comm(MPI_COMM_WORLD, small_blocks(transport));
    for (Algorithm algorithm : {Algorithm::lp, Algorithm::ring, Algorithm::mpi, Algorithm::automatic})
      for (ReduceOp op : kOps)
        for (std::size_t n : kSizes) {
          const auto input =
              random_integers<T>(n, 11u * static_cast<unsigned>(comm.rank()) + static_cast<unsigned>(n));
          std::vector<T> reference(n, T(0));
          MPI_Allreduce(input.data(), reference.data(), static_cast<int>(n), mpi_type<T>(), mpi_op(op),
                        MPI_COMM_WORLD);
          std::vector<T> out(n, T(-99));
          comm.allreduce(std::span<const T>(input), std::span<T>(out), op, algorithm);
          ASSERT_TRUE(same_bits(out, reference))
              << to_string(transport) << " out of place, algorithm " << to_string(algorithm) << " op "
              << to_string(op) << " n " << n;
          std::vector<T> inout = input;
          comm.allreduce(std::span<T>(inout), op, algorithm);
          ASSERT_TRUE(same_bits(inout, reference))
              << to_string(transport) << " in place, algorithm " << to_string(algorithm) << " op "
              << to_string(op) << " n " << n;
        }
  }
}

TEST(Collectives, MultiMebibyteBuffersWithModelBlockSizesMatchMpi) {
  const std::size_t n = (std::size_t{3} << 18) + 1;  // 3 MiB + 4 bytes of floats, prime-ish tail
  const auto input = random_integers<float>(n, 31u + static_cast<unsigned>(world_rank()));
  std::vector<float> reference(n);
  MPI_Allreduce(input.data(), reference.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  for (Transport transport : kTransports) {
    CommunicatorOptions options;  // measures α and β; block sizes from the model
    options.transport = transport;
    MpiCommunicator comm(MPI_COMM_WORLD, options);
    for (Algorithm algorithm : {Algorithm::lp, Algorithm::ring}) {
      std::vector<float> out(n);
      comm.allreduce(std::span<const float>(input), std::span<float>(out), ReduceOp::sum, algorithm);
      ASSERT_TRUE(same_bits(out, reference)) << to_string(transport) << " " << to_string(algorithm);
    }
    const int root = comm.size() - 1;
    std::vector<float> reduced = input;
    comm.reduce(std::span<float>(reduced), ReduceOp::sum, root, Algorithm::lp);
    if (comm.rank() == root) {
      ASSERT_TRUE(same_bits(reduced, reference)) << to_string(transport);
    }
    std::vector<float> data = comm.rank() == root ? reference : std::vector<float>(n, 0.0f);
    comm.broadcast(std::span<float>(data), root, Algorithm::lp);
    ASSERT_TRUE(same_bits(data, reference)) << to_string(transport);
  }
}

TEST(Collectives, BothTransportsGiveTheSameBitsForRealInputs) {
  const std::size_t n = 100003;  // prime: uneven chunks, blocks and segments
  const auto input = random_reals<float>(n, 404u + static_cast<unsigned>(world_rank()));
  MpiCommunicator p2p(MPI_COMM_WORLD, small_blocks(Transport::point_to_point));
  MpiCommunicator shm(MPI_COMM_WORLD, small_blocks(Transport::shared_memory));
  for (Algorithm algorithm : {Algorithm::lp, Algorithm::ring}) {
    std::vector<float> a(n);
    std::vector<float> b(n);
    p2p.allreduce(std::span<const float>(input), std::span<float>(a), ReduceOp::sum, algorithm);
    shm.allreduce(std::span<const float>(input), std::span<float>(b), ReduceOp::sum, algorithm);
    ASSERT_TRUE(same_bits(a, b)) << to_string(algorithm);
  }
}

TEST(Collectives, AutomaticTransportIsSharedMemoryOnOneNode) {
  MpiCommunicator comm(MPI_COMM_WORLD, small_blocks());
  EXPECT_EQ(comm.transport(), comm.size() > 1 ? Transport::shared_memory : Transport::point_to_point);
  MpiCommunicator p2p(MPI_COMM_WORLD, small_blocks(Transport::point_to_point));
  EXPECT_EQ(p2p.transport(), Transport::point_to_point);
  CommunicatorOptions model_blocks;
  model_blocks.link = LinkModel{1e-3, 1e-10};  // b* far above every clamp
  model_blocks.transport = Transport::shared_memory;
  MpiCommunicator shm(MPI_COMM_WORLD, model_blocks);
  if (shm.size() > 1) {
    // A block must fit one shared-memory slot, so broadcast blocks are capped lower than on p2p.
    EXPECT_LT(shm.block_bytes_for(Collective::broadcast, 64u << 20), kMaxBroadcastBlockBytes);
    EXPECT_EQ(shm.block_bytes_for(Collective::broadcast, 64u << 20),
              shm.max_block_bytes(Collective::broadcast));
  }
}

// tests/comm/CMakeLists.txt registers this binary once more with Open MPI's osc/sm component
// excluded and ALPHAX_TEST_NO_SHARED_WINDOW set: no rank can make a shared window there.
TEST(Collectives, WithoutSharedWindowsAutomaticFallsBackToPointToPointAndShmIsRefused) {
  if (std::getenv("ALPHAX_TEST_NO_SHARED_WINDOW") == nullptr)
    GTEST_SKIP() << "runs in comm_collectives_no_shared_window_np3 (osc/sm excluded)";
  MpiCommunicator comm(MPI_COMM_WORLD, small_blocks());
  EXPECT_EQ(comm.transport(), Transport::point_to_point);
  const std::size_t n = 4099;
  const auto input = random_integers<float>(n, 77u + static_cast<unsigned>(world_rank()));
  std::vector<float> reference(n);
  MPI_Allreduce(input.data(), reference.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  for (Algorithm algorithm : {Algorithm::lp, Algorithm::ring}) {
    std::vector<float> out(n);
    comm.allreduce(std::span<const float>(input), std::span<float>(out), ReduceOp::sum, algorithm);
    EXPECT_TRUE(same_bits(out, reference)) << to_string(algorithm);
  }
  if (world_size() < 2) return;
  try {
    MpiCommunicator shm(MPI_COMM_WORLD, small_blocks(Transport::shared_memory));
    ADD_FAILURE() << "Transport::shared_memory without a shared window did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("Transport::automatic"), std::string::npos) << e.what();
  }
}

// All ranks' inputs, rank by rank.
std::vector<std::vector<double>> gather_inputs(const std::vector<double>& mine, int size) {
  std::vector<double> all(mine.size() * static_cast<std::size_t>(size));
  MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_DOUBLE, all.data(),
                static_cast<int>(mine.size()), MPI_DOUBLE, MPI_COMM_WORLD);
  std::vector<std::vector<double>> per_rank;
  for (int r = 0; r < size; ++r)
    per_rank.emplace_back(all.begin() + static_cast<std::ptrdiff_t>(mine.size()) * r,
                          all.begin() + static_cast<std::ptrdiff_t>(mine.size()) * (r + 1));
  return per_rank;
}

TEST(Collectives, LpReduceAddsInChainOrderFromTheTailTowardsTheRoot) {
  for (Transport transport : kTransports) {
    MpiCommunicator comm(MPI_COMM_WORLD, small_blocks(transport));
    const std::size_t n = 1031;
    const auto input = random_reals<double>(n, 5u + static_cast<unsigned>(comm.rank()));
    const auto inputs = gather_inputs(input, comm.size());
    for (int root = 0; root < comm.size(); ++root) {
      // x_root + (x_root+1 + (... + x_root+P-1)), ranks taken modulo P.
      std::vector<double> expected = inputs[static_cast<std::size_t>((root + comm.size() - 1) % comm.size())];
      for (int v = comm.size() - 2; v >= 0; --v)
        for (std::size_t i = 0; i < n; ++i)
          expected[i] = inputs[static_cast<std::size_t>((root + v) % comm.size())][i] + expected[i];
      std::vector<double> out(n);
      comm.reduce(std::span<const double>(input), std::span<double>(out), ReduceOp::sum, root, Algorithm::lp);
      if (comm.rank() == root) {
        ASSERT_TRUE(same_bits(out, expected)) << "root " << root;
      }
      if (root == 0) {
        std::vector<double> all(n);
        comm.allreduce(std::span<const double>(input), std::span<double>(all), ReduceOp::sum, Algorithm::lp);
        ASSERT_TRUE(same_bits(all, expected)) << "lp allreduce reduces towards rank 0 in the same order";
      }
    }
  }
}

TEST(Collectives, RepeatedAllreducesAreBitIdenticalAndAgreeOnEveryRank) {
  for (Transport transport : kTransports) {
    MpiCommunicator comm(MPI_COMM_WORLD, small_blocks(transport));
    const std::size_t n = 4099;
    const auto input = random_reals<float>(n, 77u + static_cast<unsigned>(comm.rank()));
    for (Algorithm algorithm : {Algorithm::lp, Algorithm::ring}) {
      std::vector<float> first(n);
      std::vector<float> second(n);
      comm.allreduce(std::span<const float>(input), std::span<float>(first), ReduceOp::sum, algorithm);
      comm.allreduce(std::span<const float>(input), std::span<float>(second), ReduceOp::sum, algorithm);
      ASSERT_TRUE(same_bits(first, second)) << to_string(algorithm);
      std::vector<float> rank0 = first;
      MPI_Bcast(rank0.data(), static_cast<int>(n), MPI_FLOAT, 0, MPI_COMM_WORLD);
      ASSERT_TRUE(same_bits(first, rank0)) << to_string(algorithm);
    }
  }
}

template <class F>
void expect_invalid_argument_mentioning(F&& call, const char* text) {
  try {
    call();
    ADD_FAILURE() << "no exception; expected one mentioning '" << text << "'";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Collectives, BadArgumentsThrowOnEveryRankBeforeCommunicating) {
  MpiCommunicator comm(MPI_COMM_WORLD, small_blocks());
  std::vector<float> data(16, 1.0f);
  std::vector<float> out(17, 0.0f);
  expect_invalid_argument_mentioning([&] { comm.broadcast(data.data(), -4, 0); }, "negative count -4");
  expect_invalid_argument_mentioning([&] { comm.reduce(std::span<float>(data), ReduceOp::sum, comm.size()); },
                                     "out of range");
  expect_invalid_argument_mentioning([&] { comm.broadcast(std::span<float>(data), -1); }, "out of range");
  expect_invalid_argument_mentioning(
      [&] { comm.allreduce(data.data(), data.data() + 4, 8, ReduceOp::sum, Algorithm::lp); }, "overlap");
  expect_invalid_argument_mentioning(
      [&] { comm.reduce(data.data(), data.data(), 8, ReduceOp::sum, 0, Algorithm::lp); }, "overlap");
  expect_invalid_argument_mentioning([&] { comm.broadcast(std::span<float>(data), 0, Algorithm::ring); },
                                     "allreduce only");
  expect_invalid_argument_mentioning(
      [&] { comm.allreduce(std::span<const float>(data), std::span<float>(out), ReduceOp::sum); },
      "equal size");
  expect_invalid_argument_mentioning(
      [&] { comm.reduce(std::span<const float>(data), std::span<float>(out), ReduceOp::sum, 0); }, "17");
#if !defined(ALPHAX_HAVE_NCCL)
  expect_invalid_argument_mentioning(
      [&] { comm.allreduce(std::span<float>(data), ReduceOp::sum, Algorithm::nccl); }, "no NCCL");
#endif
  // The communicator is still usable afterwards.
  comm.allreduce(std::span<float>(data), ReduceOp::sum, Algorithm::lp);
  EXPECT_EQ(data[0], static_cast<float>(comm.size()));
}

TEST(Collectives, SplitMakesIndependentGroupsOrderedByKey) {
  MpiCommunicator comm(MPI_COMM_WORLD, small_blocks());
  const int color = comm.rank() % 2;
  auto group = comm.split(color, -comm.rank());
  ASSERT_NE(group, nullptr);
  const int expected_size = (comm.size() + 1 - color) / 2;
  EXPECT_EQ(group->size(), expected_size);
  EXPECT_EQ(group->rank(), (comm.size() - 1 - comm.rank()) / 2);  // key −rank: descending ranks
  std::vector<double> ones(33, 1.0);
  group->allreduce(std::span<double>(ones), ReduceOp::sum, Algorithm::ring);
  EXPECT_EQ(ones[32], static_cast<double>(expected_size));
  EXPECT_EQ(group->link_model().alpha_s, comm.link_model().alpha_s);
  auto none = comm.split(comm.rank() == 0 ? kUndefinedColor : 1, 0);
  EXPECT_EQ(none == nullptr, comm.rank() == 0);
}

TEST(Collectives, LibraryTrafficNeverMatchesApplicationMessagesOnTheParentCommunicator) {
  if (world_size() < 2) GTEST_SKIP() << "needs two ranks";
  MpiCommunicator comm(MPI_COMM_WORLD, small_blocks());
  const int tags[] = {7301, 7302, 7303, 0};
  std::vector<float> app_message(4, 42.0f);
  std::vector<MPI_Request> requests;
  if (world_rank() == 0)
    for (int tag : tags) {
      requests.emplace_back();
      MPI_Isend(app_message.data(), 4, MPI_FLOAT, 1, tag, MPI_COMM_WORLD, &requests.back());
    }
  std::vector<float> data(300, world_rank() == 0 ? 1.0f : 0.0f);
  comm.broadcast(std::span<float>(data), 0, Algorithm::lp);
  comm.allreduce(std::span<float>(data), ReduceOp::sum, Algorithm::ring);
  EXPECT_EQ(data[299], static_cast<float>(world_size()));
  if (world_rank() == 1)
    for (int tag : tags) {
      std::vector<float> received(4, 0.0f);
      MPI_Recv(received.data(), 4, MPI_FLOAT, 0, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      EXPECT_EQ(received[3], 42.0f);
    }
  MPI_Waitall(static_cast<int>(requests.size()), requests.data(), MPI_STATUSES_IGNORE);
}

TEST(Collectives, MeasuredLinkModelIsPositiveAndSharedByEveryRank) {
  MpiCommunicator comm(MPI_COMM_WORLD);
  const LinkModel link = comm.link_model();
  if (comm.size() == 1) {
    EXPECT_EQ(link.alpha_s, 0.0);
    return;
  }
  EXPECT_GT(link.alpha_s, 0.0);
  EXPECT_GT(link.beta_s_per_byte, 0.0);
  double mine[2] = {link.alpha_s, link.beta_s_per_byte};
  double rank0[2] = {mine[0], mine[1]};
  MPI_Bcast(rank0, 2, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  EXPECT_EQ(mine[0], rank0[0]);
  EXPECT_EQ(mine[1], rank0[1]);
  const int chosen = static_cast<int>(comm.resolve(Collective::allreduce, Algorithm::automatic, 1 << 20));
  int chosen0 = chosen;
  MPI_Bcast(&chosen0, 1, MPI_INT, 0, MPI_COMM_WORLD);
  EXPECT_EQ(chosen, chosen0);
}

TEST(Collectives, MovedCommunicatorKeepsWorking) {
  MpiCommunicator first(MPI_COMM_WORLD, small_blocks());
  MpiCommunicator second(std::move(first));
  std::vector<double> data(9, 2.0);
  second.allreduce(std::span<double>(data), ReduceOp::sum, Algorithm::lp);
  EXPECT_EQ(data[8], 2.0 * second.size());
}

}  // namespace
}  // namespace alphax::comm
