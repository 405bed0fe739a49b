// Log.Format json and Log.Levels (common/log.h, docs/operations.md): with JSON logs every line
// dtmd writes is one JSON object with time, level and component, a transaction's lines carry
// gid / branch_id / op as keys, and each component logs at its own level.
#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

class JsonLogTest : public IntegrationTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    // The engine at debug, the cron at error (its lines must vanish), the rest at LogLevel info.
    o.extra_yaml = "Log:\n  Format: json\n  Levels: \"engine=debug, cron=error\"\n";
    return o;
  }
  std::vector<bj::object> Lines() const {
    std::ifstream in(dtm_.dir() + "/dtmd.log");
    std::vector<bj::object> out;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      boost::system::error_code ec;
      bj::value v = bj::parse(line, ec);
      EXPECT_FALSE(ec) << "not JSON: " << line;
      if (!ec && v.is_object()) out.push_back(v.as_object());
    }
    return out;
  }
};

std::string S(const bj::object& o, const char* k) {
  auto it = o.find(k);
  return it != o.end() && it->value().is_string() ? std::string(it->value().get_string()) : "";
}

TEST_F(JsonLogTest, LinesAreJsonWithTransactionFieldsAndComponentLevels) {
  LYNX_DTMD_ONLY("dtmd's log format");
  const std::string gid = TestName();
  busi_.Script("TransIn", {"ERROR"});
  // Traced: the engine's lines about it carry the trace id too.
  constexpr char kTraceId[] = "0af7651916cd43dd8448eb211c80319c";
  ASSERT_EQ(dtm_.Post("submit", Saga(gid).Json(), {},
                      {{"traceparent", std::string("00-") + kTraceId + "-b7ad6b7169203331-01"}})
                .status,
            200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.CronOnce(60), gid);
  ASSERT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  std::vector<bj::object> lines;
  // The engine's line about the failed call is written by the time the pass ended.
  ASSERT_TRUE(WaitUntil([&] {
    lines = Lines();
    for (const auto& o : lines) {
      if (S(o, "gid") == gid && S(o, "branch_id") == "02") return true;
    }
    return false;
  }));
  bool branch_line = false, debug_line = false, startup_line = false;
  for (const auto& o : lines) {
    EXPECT_FALSE(S(o, "time").empty());
    EXPECT_FALSE(S(o, "level").empty());
    EXPECT_FALSE(S(o, "msg").empty());
    const std::string component = S(o, "component");
    EXPECT_NE(component, "cron") << "cron logs at error only: " << bj::serialize(o);
    if (S(o, "gid") == gid && S(o, "branch_id") == "02" && S(o, "op") == "action" &&
        component == "engine") {
      branch_line = true;
      EXPECT_EQ(S(o, "trace_id"), kTraceId) << bj::serialize(o);
    }
    if (component == "engine" && S(o, "level") == "debug" && S(o, "gid") == gid) debug_line = true;
    if (component == "server" && S(o, "msg").find("dtmd listening") != std::string::npos) {
      startup_line = true;
    }
  }
  EXPECT_TRUE(branch_line);
  EXPECT_TRUE(debug_line);
  EXPECT_TRUE(startup_line);
}

}  // namespace
}  // namespace lynx::it
