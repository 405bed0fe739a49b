// W3C traceparent parsing (trace_context.h): what is accepted, what is ignored.
#include "server/tracing/trace_context.h"

#include <gtest/gtest.h>

namespace lynx::server {
namespace {

constexpr char kValid[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContextTest, ParsesTheSpecificationsExample) {
  auto t = ParseTraceParent(kValid, "congo=t61rcWkgMzE");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->span_id, "00f067aa0ba902b7");
  EXPECT_EQ(t->flags, "01");
  EXPECT_EQ(t->tracestate, "congo=t61rcWkgMzE");
  EXPECT_EQ(t->Header(), kValid);
  // A future version may append fields.
  EXPECT_TRUE(
      ParseTraceParent(
          "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds", "")
          .has_value());
}

TEST(TraceContextTest, MalformedOnesAreIgnored) {
  for (const char* bad :
       {"", "garbage", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff
        "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",  // dashes misplaced
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g"}) {
    EXPECT_FALSE(ParseTraceParent(bad, "").has_value()) << bad;
  }
  // A tracestate too long or with control characters is dropped, the traceparent kept.
  auto t = ParseTraceParent(kValid, std::string(600, 'a'));
  ASSERT_TRUE(t.has_value());
  EXPECT_TRUE(t->tracestate.empty());
  EXPECT_TRUE(ParseTraceParent(kValid, "a=b\r\nX-Evil: 1")->tracestate.empty());
}

TEST(TraceContextTest, ChildrenKeepTheTraceAndStoredDataRoundTrips) {
  auto parent = ParseTraceParent(kValid, "k=v");
  ASSERT_TRUE(parent.has_value());
  TraceContext a = ChildSpanOf(*parent), b = ChildSpanOf(*parent);
  EXPECT_EQ(a.trace_id, parent->trace_id);
  EXPECT_NE(a.span_id, parent->span_id);
  EXPECT_NE(a.span_id, b.span_id);
  EXPECT_TRUE(ParseTraceParent(a.Header(), "").has_value());
  auto back = TraceFromExtData(TraceExtData(a));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->Header(), a.Header());
  EXPECT_EQ(back->tracestate, "k=v");
  for (const char* stored : {"", "x", "[]", R"({"headers":1})", R"({"headers":{"traceparent":5}})",
                             R"({"headers":{"traceparent":"bad"}})"}) {
    EXPECT_FALSE(TraceFromExtData(stored).has_value()) << stored;
  }
}

}  // namespace
}  // namespace lynx::server
