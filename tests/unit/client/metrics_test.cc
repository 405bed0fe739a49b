// ClientMetrics: the exposition names and counts (contract §4) after health checks, gid requests
// and TransactionHelper transactions against a scripted transport.
#include <gtest/gtest.h>

#include <lynx/dtm/dtm.h>

#include <string>

#include "fake_transport.h"

namespace lynx::dtm {
namespace {

using testing::FakeTransportTest;
using testing::kBusi;
using testing::kDtm;

bool Contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

class MetricsTest : public FakeTransportTest {
 protected:
  static DtmConfig Enabled() {
    DtmConfig c;
    c.enabled = true;
    c.server_url = kDtm;
    return c;
  }
};

TEST(ClientMetricsTest, EmptyExpositionNamesEveryMetric) {
  ClientMetrics m;
  const std::string text = m.Serialize();
  EXPECT_TRUE(Contains(text, "# TYPE lynx_dtm_transactions_total counter\n"));
  EXPECT_TRUE(Contains(text, "# TYPE lynx_dtm_active_transactions gauge\n"));
  EXPECT_TRUE(Contains(text, "lynx_dtm_active_transactions 0\n"));
  EXPECT_TRUE(Contains(text, "# TYPE lynx_dtm_transaction_duration_seconds histogram\n"));
  EXPECT_TRUE(Contains(text, "# TYPE lynx_dtm_barrier_operations_total counter\n"));
  EXPECT_TRUE(Contains(text, "lynx_dtm_barrier_operations_total 0\n"));
  EXPECT_TRUE(Contains(text, "# TYPE lynx_dtm_health_check_total counter\n"));
  EXPECT_TRUE(Contains(text, "# TYPE lynx_dtm_gid_requests_total counter\n"));
}

TEST(ClientMetricsTest, HistogramBucketsAreCumulative) {
  ClientMetrics m;
  m.TransactionStarted();
  m.TransactionStarted();
  m.TransactionStarted();
  m.TransactionFinished("saga", true, 0.02);
  m.TransactionFinished("saga", true, 3);
  m.RecordBarrierOperation();
  const std::string text = m.Serialize();
  const std::string labels = R"(type="saga",status="success")";
  EXPECT_TRUE(Contains(text, "lynx_dtm_transactions_total{" + labels + "} 2\n")) << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_active_transactions 1\n")) << text;
  EXPECT_TRUE(Contains(
      text, "lynx_dtm_transaction_duration_seconds_bucket{" + labels + ",le=\"0.01\"} 0\n"))
      << text;
  EXPECT_TRUE(Contains(
      text, "lynx_dtm_transaction_duration_seconds_bucket{" + labels + ",le=\"0.025\"} 1\n"))
      << text;
  EXPECT_TRUE(
      Contains(text, "lynx_dtm_transaction_duration_seconds_bucket{" + labels + ",le=\"5\"} 2\n"))
      << text;
  EXPECT_TRUE(Contains(
      text, "lynx_dtm_transaction_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} 2\n"))
      << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_transaction_duration_seconds_count{" + labels + "} 2\n"))
      << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_barrier_operations_total 1\n")) << text;
}

TEST_F(MetricsTest, ClientRecordsHealthGidAndHelperTransactions) {
  DTMClient client(Enabled());
  TransactionHelper helper(client);

  fake_->Script("/newGid", 200, R"({"gid":"g1","dtm_result":"SUCCESS"})");
  EXPECT_TRUE(client.CheckHealth().ok());
  fake_->ScriptTransportError("/newGid");
  EXPECT_FALSE(client.CheckHealth().ok());

  fake_->Script("/newGid", 200, R"({"gid":"g2","dtm_result":"SUCCESS"})");
  EXPECT_EQ(client.GenerateGid(), "g2");
  fake_->Script("/newGid", 200, R"({"gid":"g3","dtm_result":"SUCCESS"})");
  EXPECT_EQ(helper.MustGenGid(), "g3");
  fake_->ScriptTransportError("/newGid");
  EXPECT_FALSE(client.NewGid().ok());

  const std::string busi(kBusi);
  EXPECT_TRUE(helper
                  .ExecuteSAGA(Context::Background(), "s1",
                               {{.action = busi + "/Out", .compensate = busi + "/OutRevert"}})
                  .ok());
  fake_->ScriptTransportError("/submit");
  EXPECT_FALSE(helper
                   .ExecuteSAGA(Context::Background(), "s2",
                                {{.action = busi + "/Out", .compensate = busi + "/OutRevert"}})
                   .ok());
  EXPECT_TRUE(helper
                  .ExecuteTCC(Context::Background(), "t1",
                              {{.try_url = busi + "/Try",
                                .confirm_url = busi + "/Confirm",
                                .cancel_url = busi + "/Cancel"}})
                  .ok());
  EXPECT_TRUE(
      helper.ExecuteXA(Context::Background(), "x1", {{.action = busi + "/Xa", .data = "{}"}}).ok());
  EXPECT_TRUE(helper
                  .ExecuteMsg(Context::Background(), "m1", busi + "/QueryPrepared",
                              {{.action = busi + "/In"}})
                  .ok());

  const std::string text = client.Metrics().Serialize();
  EXPECT_TRUE(Contains(text, "lynx_dtm_health_check_total{status=\"ok\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_health_check_total{status=\"fail\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_gid_requests_total{status=\"ok\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_gid_requests_total{status=\"fail\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_transactions_total{type=\"saga\",status=\"success\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_transactions_total{type=\"saga\",status=\"failure\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_transactions_total{type=\"tcc\",status=\"success\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_transactions_total{type=\"xa\",status=\"success\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_transactions_total{type=\"msg\",status=\"success\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text,
                       "lynx_dtm_transaction_duration_seconds_count{type=\"tcc\","
                       "status=\"success\"} 1\n"))
      << text;
  EXPECT_TRUE(Contains(text, "lynx_dtm_active_transactions 0\n")) << text;
}

}  // namespace
}  // namespace lynx::dtm
