// lynx::Context: deadlines, cancellation shared with children (never upwards), headers.
#include <gtest/gtest.h>

#include <lynx/context.h>

#include <chrono>
#include <thread>

namespace lynx {
namespace {

using namespace std::chrono_literals;

TEST(ContextTest, BackgroundIsEmpty) {
  Context ctx = Context::Background();
  EXPECT_FALSE(ctx.Done());
  EXPECT_FALSE(ctx.Deadline().has_value());
  EXPECT_FALSE(ctx.Remaining().has_value());
  EXPECT_TRUE(ctx.Headers().empty());
  EXPECT_TRUE(ctx.Err().ok());
}

TEST(ContextTest, TimeoutSetsADeadlineAndKeepsTheEarlierOne) {
  Context parent = Context::Background().WithTimeout(10s);
  Context child = parent.WithTimeout(1h);
  ASSERT_TRUE(child.Deadline().has_value());
  EXPECT_EQ(*child.Deadline(), *parent.Deadline());
  Context shorter = parent.WithTimeout(20ms);
  EXPECT_LT(*shorter.Deadline(), *parent.Deadline());
  EXPECT_LE(shorter.Remaining()->count(), 20);
  std::this_thread::sleep_for(30ms);
  EXPECT_TRUE(shorter.Done());
  EXPECT_EQ(shorter.Err().message(), "context deadline exceeded");
  EXPECT_EQ(shorter.Remaining()->count(), 0);
  EXPECT_FALSE(parent.Done());
}

TEST(ContextTest, CancelReachesChildrenNotParents) {
  Context root = Context::Background();
  Context child = root.WithHeaders({{"a", "1"}});
  Context grandchild = child.WithTimeout(1h);
  Context copy = child;  // a copy is the same context
  grandchild.Cancel();
  EXPECT_TRUE(grandchild.Done());
  EXPECT_FALSE(child.Done());
  EXPECT_FALSE(root.Done());
  copy.Cancel();
  EXPECT_TRUE(child.Done());
  EXPECT_FALSE(root.Done());
  Context other = root.WithCancel();
  root.Cancel();
  EXPECT_TRUE(other.Done());
  EXPECT_TRUE(root.Cancelled());
  EXPECT_EQ(other.Err().message(), "context canceled");
}

TEST(ContextTest, HeadersMergeNewValuesWin) {
  Context a = Context::Background().WithHeaders({{"x-a", "1"}, {"x-b", "1"}});
  Context b = a.WithHeaders({{"x-b", "2"}, {"x-c", "2"}});
  EXPECT_EQ(a.Headers().size(), 2u);
  EXPECT_EQ(b.Headers().at("x-a"), "1");
  EXPECT_EQ(b.Headers().at("x-b"), "2");
  EXPECT_EQ(b.Headers().at("x-c"), "2");
  EXPECT_EQ(b.WithTimeout(1s).Headers().at("x-b"), "2");
}

TEST(ContextTest, WaitForWakesOnCancel) {
  Context root = Context::Background();
  Context child = root.WithTimeout(1h);
  std::thread canceller([root] {
    std::this_thread::sleep_for(30ms);
    root.Cancel();
  });
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(child.WaitFor(std::chrono::milliseconds(10000)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  canceller.join();
}

TEST(ContextTest, WaitForEndsAtTheDeadlineOrTheDuration) {
  Context ctx = Context::Background().WithTimeout(20ms);
  EXPECT_TRUE(ctx.WaitFor(std::chrono::milliseconds(10000)));
  Context open = Context::Background();
  EXPECT_FALSE(open.WaitFor(std::chrono::milliseconds(5)));
}

}  // namespace
}  // namespace lynx
