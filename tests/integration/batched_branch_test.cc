// DTM's batched branch-status mode (UpdateBranchSync: 0, dtm-protocol.md §7.5) on PostgreSQL:
// branch statuses reach the store within the batch window, a graceful stop writes what is still
// queued, and the embedded store ignores the mode (it always writes synchronously).
#include <boost/json.hpp>

#include <string>

#include "harness.h"

namespace lynx::it {
namespace {

// The value of a Prometheus sample line starting with `series` on /api/metrics (0 when absent).
double MetricValue(const Dtmd& dtm, const std::string& series) {
  auto res = Http(dtm.port(), "GET", "/api/metrics");
  EXPECT_EQ(res.status, 200);
  size_t at = res.body.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(res.body.substr(at + series.size() + 2));
}

const std::string kWritten = R"(dtmd_batched_branch_rows_total{result="written"})";
const Statuses kAllDone = {kPrepared, kSucceed, kPrepared, kSucceed};

class BatchedBranchTest : public IntegrationTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.store = "postgres";
    o.extra_yaml = "UpdateBranchSync: 0\n";
    return o;
  }
};

TEST_F(BatchedBranchTest, StatusesArriveWithinTheBatchWindow) {
  LYNX_DTMD_ONLY("the reference server's batched mode is not under test here");
  constexpr int kSagas = 30;
  for (int i = 0; i < kSagas; ++i) {
    TransRequest saga = Saga("batched-" + std::to_string(i));
    saga.wait_result = true;
    ASSERT_EQ(Submit(saga).status, 200);
  }
  for (int i = 0; i < kSagas; ++i) {
    const std::string gid = "batched-" + std::to_string(i);
    EXPECT_EQ(dtm_.Status(gid), kSucceed);
    EXPECT_TRUE(
        WaitUntil([&] { return dtm_.BranchStatuses(gid) == kAllDone; }, std::chrono::seconds(5)))
        << gid;
  }
  // Every action's status went through the batched path, none was dropped.
  EXPECT_EQ(MetricValue(dtm_, kWritten), 2 * kSagas);
  EXPECT_EQ(MetricValue(dtm_, R"(dtmd_batched_branch_rows_total{result="dropped"})"), 0);
}

TEST_F(BatchedBranchTest, ConcurrentSagasAndTimeoutsStaySynchronous) {
  LYNX_DTMD_ONLY("metrics of dtmd");
  TransRequest concurrent = Saga("batched-concurrent");
  concurrent.concurrent = true;
  concurrent.wait_result = true;
  ASSERT_EQ(Submit(concurrent).status, 200);
  TransRequest timed = Saga("batched-timeout");
  timed.timeout_to_fail = 60;
  timed.wait_result = true;
  ASSERT_EQ(Submit(timed).status, 200);
  // Written before submit answered: no waiting needed.
  EXPECT_EQ(dtm_.BranchStatuses("batched-concurrent"), kAllDone);
  EXPECT_EQ(dtm_.BranchStatuses("batched-timeout"), kAllDone);
  EXPECT_EQ(MetricValue(dtm_, kWritten), 0);
}

TEST_F(BatchedBranchTest, GracefulStopWritesTheQueue) {
  LYNX_DTMD_ONLY("restarts dtmd");
  TransRequest saga = Saga("batched-stop");
  saga.wait_result = true;
  ASSERT_EQ(Submit(saga).status, 200);
  // Stopped at once, most likely inside the batch window: the queue is drained on the way out.
  ASSERT_EQ(dtm_.Stop(), std::optional<int>(0));
  std::string err;
  ASSERT_TRUE(dtm_.Relaunch(&err)) << err;
  EXPECT_EQ(dtm_.Status("batched-stop"), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses("batched-stop"), kAllDone);
}

class BatchedOnEmbeddedTest : public IntegrationTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.store = "boltdb";
    o.extra_yaml = "UpdateBranchSync: 0\n";
    return o;
  }
};

TEST_F(BatchedOnEmbeddedTest, EmbeddedStoreWritesSynchronously) {
  LYNX_DTMD_ONLY("metrics of dtmd");
  TransRequest saga = Saga("embedded-sync");
  saga.wait_result = true;
  ASSERT_EQ(Submit(saga).status, 200);
  EXPECT_EQ(dtm_.BranchStatuses("embedded-sync"), kAllDone);
  EXPECT_EQ(MetricValue(dtm_, kWritten), 0);
}

}  // namespace
}  // namespace lynx::it
