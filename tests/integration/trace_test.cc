// W3C trace context (trace_context.h): a transaction submitted with a traceparent is part of
// that trace — every branch call, first or retried by the cron, carries a traceparent of the same
// trace with a span of its own, and the tracestate; a malformed traceparent is ignored.
#include <set>
#include <string>

#include "harness.h"

namespace lynx::it {
namespace {

constexpr char kTraceId[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

class TraceTest : public IntegrationTest {};

TEST_F(TraceTest, BranchCallsCarryChildSpansOfTheCallersTrace) {
  LYNX_DTMD_ONLY("trace propagation is a dtmd feature");
  const std::string gid = TestName();
  busi_.Script("TransIn", {"ERROR"});  // so that the cron retries it from the stored context
  auto res = dtm_.Post("submit", Saga(gid).Json(), {},
                       {{"traceparent", kParent}, {"tracestate", "vendor=abc"}});
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.CronOnce(60), gid);
  ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  auto calls = busi_.Calls("", gid);
  ASSERT_EQ(calls.size(), 3u);  // TransOut, TransIn (error), TransIn (retry)
  std::set<std::string> spans;
  for (const auto& c : calls) {
    const std::string tp = c.Header("traceparent");
    ASSERT_EQ(tp.size(), 55u) << c.route << ": '" << tp << "'";
    EXPECT_EQ(tp.substr(0, 3), "00-");
    EXPECT_EQ(tp.substr(3, 32), kTraceId) << c.route;
    EXPECT_NE(tp.substr(36, 16), "00f067aa0ba902b7") << "a span of dtmd's own";
    spans.insert(tp.substr(36, 16));
    EXPECT_EQ(c.Header("tracestate"), "vendor=abc");
  }
  EXPECT_EQ(spans.size(), calls.size()) << "each call is a span of its own";
}

TEST_F(TraceTest, AMalformedTraceparentIsIgnored) {
  LYNX_DTMD_ONLY("trace propagation is a dtmd feature");
  const std::string gid = TestName();
  auto res = dtm_.Post("submit", Saga(gid).Json(), {},
                       {{"traceparent", "00-not-a-trace-01"}, {"tracestate", "vendor=abc"}});
  ASSERT_EQ(res.status, 200) << res.body;
  ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  for (const auto& c : busi_.Calls("", gid)) {
    EXPECT_EQ(c.Header("traceparent"), "") << c.route;
    EXPECT_EQ(c.Header("tracestate"), "") << c.route;
  }
  // Without any: no trace headers either.
  const std::string plain = TestName() + "-plain";
  ASSERT_EQ(dtm_.Post("submit", Saga(plain).Json()).status, 200);
  ASSERT_TRUE(dtm_.WaitStatus(plain, kSucceed));
  for (const auto& c : busi_.Calls("", plain)) EXPECT_EQ(c.Header("traceparent"), "");
}

}  // namespace
}  // namespace lynx::it
