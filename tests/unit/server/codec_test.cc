// Request decoding, validation and DTM's result classification (dtm-protocol.md §1.4, §2.3, §4.2).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "common/time_format.h"
#include "server/branch_caller.h"
#include "server/trans_codec.h"

namespace lynx::server {
namespace {

TEST(CodecTest, DecodesTheGoSdkSagaBody) {
  auto t = DecodeTransRequest(
      R"({"gid":"g1","trans_type":"saga","concurrent":false,
          "steps":[{"action":"http://b/TransOut","compensate":"http://b/TransOutRevert"}],
          "payloads":["{\"amount\":30}"],"protocol":"","retry_limit":3,
          "branch_headers":{"h":"v"},"wait_result":true})",
      true);
  ASSERT_TRUE(t.ok()) << t.status().message();
  EXPECT_EQ(t->g.gid, "g1");
  EXPECT_EQ(t->g.protocol, "http");
  ASSERT_EQ(t->bin_payloads.size(), 1u);
  EXPECT_EQ(t->bin_payloads[0], R"({"amount":30})");
  EXPECT_EQ(t->opts.retry_limit, 3);
  EXPECT_TRUE(t->opts.wait_result);
  EXPECT_EQ(t->opts.branch_headers.at("h"), "v");
}

TEST(CodecTest, LegacyStepDataIsThePayload) {
  auto t = DecodeTransRequest(
      R"({"gid":"g2","trans_type":"saga","steps":[{"action":"a","compensate":"c","data":"{}"}]})",
      true);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->bin_payloads, std::vector<std::string>{"{}"});
}

TEST(CodecTest, RejectsBadInputWithClearMessages) {
  struct Case {
    const char* body;
    const char* message;
  } cases[] = {
      {"{not json", "invalid JSON"},
      {"[1]", "must be a JSON object"},
      {R"({"trans_type":"saga"})", "gid is required"},
      {R"({"gid":"g","trans_type":"sagax"})", "unknown trans_type 'sagax'"},
      {R"({"gid":"g"})", "trans_type is required"},
      {R"({"gid":"g","trans_type":"saga","steps":[{"action":"a"}]})",
       "steps and payloads mismatch"},
      {R"({"gid":"g","trans_type":"saga","steps":[{"action":1}],"payloads":["x"]})",
       "step field 'action' must be a string"},
      {R"({"gid":7,"trans_type":"saga"})", "field 'gid' must be a string"},
      {R"({"gid":"g","trans_type":"saga","timeout_to_fail":-1})", "must be from 0 to"},
      {R"({"gid":"g","trans_type":"saga","timeout_to_fail":"x"})", "must be an integer"},
      {R"({"gid":"g","trans_type":"saga","custom_data":"{oops"})", "custom_data"},
      {R"({"gid":"a\u0001b","trans_type":"saga"})", "control characters"},
      {R"({"gid":"g","trans_type":"msg","protocol":"smtp"})", "unknown protocol"},
  };
  for (const auto& c : cases) {
    auto t = DecodeTransRequest(c.body, true);
    ASSERT_FALSE(t.ok()) << c.body;
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(t.status().message().find(c.message), std::string::npos) << t.status().message();
  }
  std::string long_gid(129, 'x');
  EXPECT_FALSE(
      DecodeTransRequest(R"({"gid":")" + long_gid + R"(","trans_type":"saga"})", true).ok());
  std::string ok_gid(128, 'x');
  EXPECT_TRUE(DecodeTransRequest(R"({"gid":")" + ok_gid + R"(","trans_type":"saga"})", true).ok());
}

TEST(CodecTest, GidEscapeRemovesNewlinesAndSemicolons) {
  std::string gid = "a;b\nc\rd";
  ASSERT_TRUE(CheckAndEscapeGid(&gid).ok());
  EXPECT_EQ(gid, "abcd");
  std::string only = ";\n";
  EXPECT_FALSE(CheckAndEscapeGid(&only).ok());
}

TEST(CodecTest, RegisterBranchValuesMustBeStrings) {
  auto r = DecodeBranchRegistration(R"({"gid":"g","trans_type":"tcc","branch_id":"01","data":{}})");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'data' must be a string"), std::string::npos);
  auto ok = DecodeBranchRegistration(
      R"({"gid":"g","trans_type":"tcc","branch_id":"01","data":"{}","confirm":"c","cancel":"x"})");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->data["confirm"], "c");
  EXPECT_FALSE(DecodeBranchRegistration(R"({"gid":"g","trans_type":"tcc"})").ok());
}

TEST(CodecTest, OptionsRoundTripAndAlwaysCarryConcurrent) {
  TransOptions o;
  EXPECT_EQ(EncodeOptions(o), R"({"concurrent":false})");
  o.retry_interval = 150;
  o.branch_headers = {{"x", "y"}};
  o.wait_result = true;
  TransOptions back;
  ASSERT_TRUE(DecodeOptions(EncodeOptions(o), &back).ok());
  EXPECT_EQ(back.retry_interval, 150);
  EXPECT_TRUE(back.wait_result);
  EXPECT_EQ(back.branch_headers.at("x"), "y");
}

TEST(CodecTest, BranchJsonHasBase64BinData) {
  store::TransBranch b;
  b.id = 3;
  b.gid = "g";
  b.bin_data = "{\"a\":1}";
  b.branch_id = "01";
  std::string j = EncodeBranchJson(b);
  EXPECT_NE(j.find(R"("bin_data":"eyJhIjoxfQ==")"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("create_time":null)"), std::string::npos) << j;
}

TEST(CodecTest, HttpReplyClassification) {
  EXPECT_TRUE(ClassifyHttpReply(200, "{}").ok());
  EXPECT_TRUE(ClassifyHttpReply(425, "").IsOngoing());
  EXPECT_TRUE(ClassifyHttpReply(409, "").IsFailure());
  EXPECT_TRUE(ClassifyHttpReply(200, R"({"dtm_result":"FAILURE"})").IsFailure());
  EXPECT_TRUE(ClassifyHttpReply(200, R"({"dtm_result":"ONGOING"})").IsOngoing());
  Status e = ClassifyHttpReply(500, "boom");
  EXPECT_FALSE(e.ok() || e.IsFailure() || e.IsOngoing());
  EXPECT_EQ(ClassifyHttpReply(409, "no money").message(), "no money FAILURE");
}

TEST(CodecTest, DtmSuffixAppearsExactlyOnce) {
  EXPECT_EQ(WithDtmSuffix("x", StatusCode::kFailure), "x FAILURE");
  EXPECT_EQ(WithDtmSuffix("x FAILURE", StatusCode::kFailure), "x FAILURE");
  EXPECT_EQ(WithDtmSuffix("FAILURE", StatusCode::kFailure), "FAILURE");
  EXPECT_EQ(WithDtmSuffix("y", StatusCode::kOngoing), "y ONGOING");
}

TEST(CodecTest, Rfc3339RoundTrip) {
  UnixMs t = 1'700'000'000'123;
  auto back = ParseRfc3339(FormatRfc3339(t));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(*back, t);
  EXPECT_EQ(ParseRfc3339("2023-11-14T22:13:20Z"), 1'700'000'000'000);
  EXPECT_FALSE(ParseRfc3339("yesterday").has_value());
}

// FormatRfc3339 keeps the last second's text per thread: every instant must still read as the
// slow way (strftime of localtime) would write it, across seconds, fractions and negative times.
TEST(CodecTest, Rfc3339CacheWritesWhatStrftimeWrites) {
  auto reference = [](UnixMs t) {
    time_t secs = static_cast<time_t>(t >= 0 ? t / 1000 : (t - 999) / 1000);
    int ms = static_cast<int>(t - static_cast<int64_t>(secs) * 1000);
    struct tm local;
    localtime_r(&secs, &local);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &local);
    std::string out = buf;
    if (ms != 0) {
      char frac[8];
      snprintf(frac, sizeof frac, ".%03d", ms);
      std::string f = frac;
      while (f.back() == '0') f.pop_back();
      out += f;
    }
    long off = local.tm_gmtoff;
    if (off == 0) return out + "Z";
    char zone[48];
    snprintf(zone, sizeof zone, "%c%02ld:%02ld", off < 0 ? '-' : '+', std::labs(off) / 3600,
             (std::labs(off) % 3600) / 60);
    return out + zone;
  };
  const UnixMs starts[] = {1'700'000'000'000, 1'700'000'000'999, -1'500, 0, 951'782'399'990};
  for (UnixMs start : starts) {
    for (UnixMs t = start; t < start + 2'500; t += 7) {
      ASSERT_EQ(FormatRfc3339(t), reference(t)) << t;
    }
  }
  // Going back and forth between seconds refreshes the cached one each time.
  for (int i = 0; i < 100; ++i) {
    const UnixMs t = (i % 2 == 0) ? 1'700'000'000'100 : 1'800'000'000'020;
    ASSERT_EQ(FormatRfc3339(t), reference(t));
  }
  EXPECT_EQ(FormatRfc3339(1'700'000'000'120).find(".12"), 19u);
}

}  // namespace
}  // namespace lynx::server
