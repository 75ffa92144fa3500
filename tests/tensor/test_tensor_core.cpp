#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

#include "alphax/tensor/tensor.hpp"
#include "alphax/tensor/threading.hpp"
#include "alphax/tensor/workspace.hpp"
#include "gradcheck.hpp"

namespace alphax::tensor {
namespace {

TEST(Shape, ReportsRankSizeAndText) {
  const Shape s{2, 3, 4, 5};
  EXPECT_EQ(s.rank(), 4);
  EXPECT_EQ(s.size(), 120);
  EXPECT_EQ(s[2], 4);
  EXPECT_EQ(s.to_string(), "[2, 3, 4, 5]");
  EXPECT_EQ(s, (Shape{2, 3, 4, 5}));
  EXPECT_FALSE(s == (Shape{2, 3, 5, 4}));
}

TEST(Shape, RejectsNegativeDimensionAndExcessRank) {
  testing::expect_invalid_argument(
      [] {
        Shape s{2, -1};
        (void)s;
      },
      "dimension 1 is negative");
  testing::expect_invalid_argument(
      [] {
        Shape s{1, 1, 1, 1, 1, 1, 1};
        (void)s;
      },
      "exceeds the maximum");
}

TEST(Tensor, OwningStorageIsZeroedAndAligned) {
  const Tensor t(Shape{3, 5, 7, 9});
  EXPECT_TRUE(t.owns_data());
  EXPECT_EQ(t.size(), 945);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data()) % kTensorAlignment, 0U);
  for (float v : t.span()) EXPECT_EQ(v, 0.0F);
}

TEST(Tensor, ViewAliasesExternalMemory) {
  std::vector<float> flat(24, 0.0F);
  Tensor v = Tensor::view(flat.data() + 4, Shape{2, 2, 5});
  EXPECT_FALSE(v.owns_data());
  v.fill(3.0F);
  EXPECT_EQ(flat[3], 0.0F);
  EXPECT_EQ(flat[4], 3.0F);
  EXPECT_EQ(flat[23], 3.0F);
  Tensor r = v.reshaped(Shape{20});
  r[0] = 7.0F;
  EXPECT_EQ(flat[4], 7.0F);
}

TEST(Tensor, ReshapeToDifferentSizeThrows) {
  Tensor t(Shape{2, 3});
  testing::expect_invalid_argument([&] { (void)t.reshaped(Shape{7}); }, "cannot view shape [2, 3] as [7]");
}

TEST(Tensor, CloneIsDeepAndMoveTransfersStorage) {
  Tensor a(Shape{4});
  a.fill(2.0F);
  Tensor b = a.clone();
  b[0] = 5.0F;
  EXPECT_EQ(a[0], 2.0F);
  const float* storage = a.data();
  Tensor c = std::move(a);
  EXPECT_EQ(c.data(), storage);
  EXPECT_EQ(a.size(), 0);  // NOLINT(bugprone-use-after-move): moved-from state is specified
}

TEST(Tensor, ElementAccessIsNchw) {
  Tensor t(Shape{2, 3, 4, 5});
  t(1, 2, 3, 4) = 1.0F;
  EXPECT_EQ(t[t.size() - 1], 1.0F);
  t(0, 1, 0, 0) = 2.0F;
  EXPECT_EQ(t[20], 2.0F);
}

TEST(Tensor, CopyFromRequiresEqualElementCount) {
  Tensor a(Shape{2, 3});
  Tensor b(Shape{6});
  b.fill(1.5F);
  a.copy_from(b);
  EXPECT_EQ(a[5], 1.5F);
  Tensor c(Shape{5});
  testing::expect_invalid_argument([&] { a.copy_from(c); }, "element counts differ");
}

TEST(Workspace, GrowsOnlyWhenTooSmall) {
  Workspace<float> ws(100);
  float* first = ws.reserve(50);
  EXPECT_EQ(ws.reserve(100), first);
  EXPECT_EQ(ws.capacity(), 100U);
  ws.reserve(1000);
  EXPECT_EQ(ws.capacity(), 1000U);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(ws.reserve(1)) % kTensorAlignment, 0U);
}

TEST(Threading, SetNumThreadsRejectsZero) {
  EXPECT_THROW(set_num_threads(0), std::invalid_argument);
  const int before = num_threads();
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(before);
  EXPECT_EQ(num_threads(), before);
}

}  // namespace
}  // namespace alphax::tensor
