#include <gtest/gtest.h>

#include <array>
#include <span>
#include <stdexcept>
#include <vector>

#include "alphax/comm/communicator.hpp"

namespace alphax::comm {
namespace {

TEST(SerialCommunicator, IsRankZeroOfOne) {
  SerialCommunicator comm;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);
  comm.barrier();
}

TEST(SerialCommunicator, BroadcastFromRootZeroLeavesDataUnchanged) {
  SerialCommunicator comm;
  std::vector<float> data{1.5f, -2.0f, 3.25f};
  for (Algorithm a : {Algorithm::automatic, Algorithm::lp, Algorithm::mpi}) {
    comm.broadcast(std::span<float>(data), 0, a);
    EXPECT_EQ(data, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  }
}

TEST(SerialCommunicator, OutOfPlaceReduceAndAllreduceCopyTheInput) {
  SerialCommunicator comm;
  const std::vector<double> send{1.0, 2.0, -7.5, 1e300};
  std::vector<double> recv(send.size(), 0.0);
  comm.reduce(std::span<const double>(send), std::span<double>(recv), ReduceOp::max, 0);
  EXPECT_EQ(recv, send);
  std::vector<double> all(send.size(), 0.0);
  comm.allreduce(std::span<const double>(send), std::span<double>(all), ReduceOp::sum, Algorithm::ring);
  EXPECT_EQ(all, send);
}

TEST(SerialCommunicator, InPlaceAllreduceKeepsTheBuffer) {
  SerialCommunicator comm;
  std::vector<float> data{4.0f, 5.0f};
  comm.allreduce(std::span<float>(data), ReduceOp::sum);
  EXPECT_EQ(data, (std::vector<float>{4.0f, 5.0f}));
  comm.reduce(std::span<float>(data), ReduceOp::min, 0);
  EXPECT_EQ(data, (std::vector<float>{4.0f, 5.0f}));
}

TEST(SerialCommunicator, RejectsBadArgumentsWithClearErrors) {
  SerialCommunicator comm;
  std::vector<float> data(4, 1.0f);
  EXPECT_THROW(comm.broadcast(data.data(), -1, 0), std::invalid_argument);
  EXPECT_THROW(comm.broadcast(std::span<float>(data), 1), std::invalid_argument);
  EXPECT_THROW(comm.reduce(std::span<float>(data), ReduceOp::sum, -1), std::invalid_argument);
  EXPECT_THROW(comm.allreduce(data.data(), data.data() + 1, 3, ReduceOp::sum), std::invalid_argument);
  EXPECT_THROW(comm.broadcast(std::span<float>(data), 0, Algorithm::ring), std::invalid_argument);
  EXPECT_THROW(comm.allreduce(std::span<float>(data), ReduceOp::sum, Algorithm::nccl), std::invalid_argument);
  try {
    comm.allreduce(data.data(), data.data(), -5, ReduceOp::sum);
    FAIL() << "negative count accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("negative count -5"), std::string::npos) << e.what();
  }
}

TEST(SerialCommunicator, SplitGivesASerialGroupOrNothingForUndefinedColor) {
  SerialCommunicator comm;
  auto part = comm.split(3, 0);
  ASSERT_NE(part, nullptr);
  EXPECT_EQ(part->size(), 1);
  EXPECT_EQ(comm.split(kUndefinedColor, 0), nullptr);
}

TEST(SerialCommunicator, ZeroCountIsANoOpEvenWithNullBuffers) {
  SerialCommunicator comm;
  EXPECT_NO_THROW(comm.allreduce<float>(nullptr, nullptr, 0, ReduceOp::sum));
  EXPECT_NO_THROW(comm.broadcast<double>(nullptr, 0, 0));
}

}  // namespace
}  // namespace alphax::comm
