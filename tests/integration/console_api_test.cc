// The console's back-end (docs/operations.md "The web console"): /all's gidPrefix and overdue
// filters and /api/admin/summary on every store, /api/admin/server with secrets hidden, and the
// embedded page served under /admin/ with its headers. (tests/console/ drives the page itself in
// Chromium.)
#include <boost/json.hpp>

#include <set>
#include <string>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

class ConsoleApiTest : public IntegrationTest {
 protected:
  std::set<std::string> Gids(const Params& params) const {
    auto res = dtm_.Get("all", params);
    EXPECT_EQ(res.status, 200) << res.body;
    std::set<std::string> out;
    const bj::value j = res.Json();
    for (const auto& t : j.as_object().at("transactions").as_array()) {
      out.insert(std::string(t.as_object().at("gid").as_string()));
    }
    return out;
  }
  HttpResponse Admin(const std::string& route) const {
    return Http(dtm_.port(), "GET", "/api/admin/" + route, "", dtm_.AuthHeaders());
  }
  int Shift(int64_t seconds) const {
    return Http(dtm_.port(), "POST", "/api/test/shiftTime?seconds=" + std::to_string(seconds), "",
                dtm_.AuthHeaders())
        .status;
  }
  int64_t Count(const bj::value& summary, const char* status) const {
    return summary.as_object().at("counts").as_object().at(status).to_number<int64_t>();
  }
};

TEST_F(ConsoleApiTest, FiltersAndCountsSeeEveryStatus) {
  LYNX_DTMD_ONLY("the console's routes are dtmd's");
  const std::string p = TestName() + "-";
  // One at a time: busi's script applies to whichever call comes next.
  ASSERT_EQ(Submit(Saga(p + "ok")).status, 200);
  ASSERT_TRUE(dtm_.WaitStatus(p + "ok", kSucceed));
  busi_.Script("TransIn", {"FAILURE"});
  ASSERT_EQ(Submit(Saga(p + "failed")).status, 200);
  ASSERT_TRUE(dtm_.WaitStatus(p + "failed", kFailed));
  busi_.Script("TransIn", {"ERROR"});
  ASSERT_EQ(Submit(Saga(p + "stuck")).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(p + "stuck", 1));
  ASSERT_EQ(Prepare(Msg(p + "prepared")).status, 200);
  ASSERT_EQ(dtm_.Status(p + "stuck"), kSubmitted);

  EXPECT_EQ(Gids({{"gidPrefix", p}}),
            (std::set<std::string>{p + "ok", p + "failed", p + "stuck", p + "prepared"}));
  EXPECT_EQ(Gids({{"gidPrefix", p + "st"}}), std::set<std::string>{p + "stuck"});
  EXPECT_EQ(Gids({{"gidPrefix", p}, {"status", kFailed}}), std::set<std::string>{p + "failed"});
  // Nothing is due yet: the stuck saga retries later, the msg is checked back later.
  EXPECT_EQ(Gids({{"gidPrefix", p}, {"overdue", "1"}}), std::set<std::string>{});
  auto summary = Admin("summary");
  ASSERT_EQ(summary.status, 200) << summary.body;
  EXPECT_EQ(Count(summary.Json(), "succeed"), 1);
  EXPECT_EQ(Count(summary.Json(), "failed"), 1);
  EXPECT_EQ(Count(summary.Json(), "submitted"), 1);
  EXPECT_EQ(Count(summary.Json(), "prepared"), 1);
  EXPECT_EQ(Count(summary.Json(), "aborting"), 0);
  EXPECT_EQ(summary.Json().as_object().at("overdue").to_number<int64_t>(), 0);
  EXPECT_EQ(summary.Json().as_object().at("count_cap").to_number<int64_t>(), 1000);

  // An hour later both unfinished ones are due: overdue until a cron picks them up.
  ASSERT_EQ(Shift(3600), 200);
  EXPECT_EQ(Gids({{"gidPrefix", p}, {"overdue", "1"}}),
            (std::set<std::string>{p + "stuck", p + "prepared"}));
  summary = Admin("summary");
  EXPECT_EQ(summary.Json().as_object().at("overdue").to_number<int64_t>(), 2);
  ASSERT_EQ(Shift(-3600), 200);

  EXPECT_EQ(dtm_.Get("all", {{"gidPrefix", std::string(129, 'x')}}).status, 400);
}

TEST_F(ConsoleApiTest, ServerInfoHidesSecrets) {
  LYNX_DTMD_ONLY("the console's routes are dtmd's");
  auto res = Admin("server");
  ASSERT_EQ(res.status, 200) << res.body;
  const bj::value j = res.Json();
  const auto& o = j.as_object();
  EXPECT_EQ(o.at("role").as_string(), "admin");  // auth off, or the harness's admin token
  EXPECT_FALSE(o.at("version").as_string().empty());
  EXPECT_EQ(std::string(o.at("instance").as_string()).substr(0, 5), "dtmd-");
  EXPECT_GE(o.at("uptime_seconds").to_number<int64_t>(), 0);
  const auto& config = o.at("config").as_object();
  // The harness points AlertWebHook at busi: a URL that may carry a token is never shown.
  EXPECT_EQ(config.at("AlertWebHook").as_string(), "***");
  EXPECT_EQ(res.body.find(busi_.Url("AlertWebHook")), std::string::npos);
  const auto& password = config.at("Store").as_object().at("Password").as_string();
  EXPECT_TRUE(password.empty() || password == "***") << password;
  EXPECT_EQ(config.at("Attempts").as_object().at("KeepPerBranch").to_number<int64_t>(), 20);
}

TEST_F(ConsoleApiTest, ThePageIsServedUnderAdmin) {
  LYNX_DTMD_ONLY("the console is dtmd's");
  auto redirect = Http(dtm_.port(), "GET", "/admin");
  EXPECT_EQ(redirect.status, 302);
  auto page = Http(dtm_.port(), "GET", "/admin/");
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("<div id=\"app\">"), std::string::npos) << page.body;
  // The script the page names is served from the binary.
  const size_t at = page.body.find("./assets/");
  ASSERT_NE(at, std::string::npos);
  const std::string asset = page.body.substr(at + 2, page.body.find('"', at) - at - 2);
  auto script = Http(dtm_.port(), "GET", "/admin/" + asset);
  EXPECT_EQ(script.status, 200) << asset;
  EXPECT_GT(script.body.size(), 1000u);
  EXPECT_EQ(Http(dtm_.port(), "GET", "/admin/assets/none.js").status, 404);
  EXPECT_EQ(Http(dtm_.port(), "GET", "/admin/../api/metrics").status, 404);
  EXPECT_EQ(Http(dtm_.port(), "POST", "/admin/").status, 405);
}

}  // namespace
}  // namespace lynx::it
