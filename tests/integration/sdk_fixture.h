// The fixture of the client SDK's integration tests: the real dtmd and busi_server of
// IntegrationTest plus a started lynx::dtm::DTMClient configured for them (pass-through headers
// X-Request-Id, test_header, Authorization). Used from the test thread.
// The same scenarios also run against the reference DTM server (reference_sdk_test,
// kReferenceServer): a scenario needing dtmd's test control either says LYNX_DTMD_ONLY or uses
// WaitFirstPass / RetryLater, which work with both servers.
#pragma once

#include <lynx/dtm/dtm.h>

#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace lynx::it {

namespace dtm = lynx::dtm;

class SdkTest : public IntegrationTest {
 protected:
  void SetUp() override {
    IntegrationTest::SetUp();
    if (HasFatalFailure()) return;
    client_ = std::make_unique<dtm::DTMClient>(Config());
    Status st = client_->StartupTasks();
    ASSERT_TRUE(st.ok()) << st.message();
  }

  // dtmd's HTTP and gRPC addresses: start-up checks both.
  virtual dtm::DtmConfig Config() const {
    dtm::DtmConfig c;
    c.enabled = true;
    c.server_url = dtm_.Url();
    c.grpc_server = dtm_.GrpcServer();
    c.pass_through_headers = {"X-Request-Id", "test_header", "Authorization"};
    // The reference server's gRPC listener can lag its readiness check by a moment (a port the
    // harness saw accepting may still have been a previous server's, closing): a few attempts.
    c.max_connection_retries = kReferenceServer ? 4 : 1;
    if (AuthEverywhere()) c.auth_token = kItClientToken;
    return c;
  }

  std::string B(const std::string& route) const { return busi_.Url(route); }

  // A gid from the server's newGid: a short uuid (base57). dtmd's are always 22 characters;
  // DTM's shortuuid (v3) pads only to 13, so about 1 in 57 of the reference server's gids has 21
  // characters (1 in 3249: 20).
  static void ExpectServerGid(const std::string& gid) {
    EXPECT_EQ(gid.find_first_not_of("23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"),
              std::string::npos)
        << gid;
    if (kReferenceServer) {
      EXPECT_TRUE(gid.size() >= 20 && gid.size() <= 22) << gid;
    } else {
      EXPECT_EQ(gid.size(), 22u) << gid;
    }
  }

  // The per-transaction retry_interval a scenario that awaits a retry sets on the reference
  // server: its own cron then retries within ~2-3 s (back-off 2 x 1 s, cron poll 0-1 s) instead
  // of dtmd's cron pass on demand (RetryLater).
  static constexpr int64_t kReferenceRetryInterval = 1;

  // A prepared msg that is never submitted gets the server's back-check (QueryPrepared) once it
  // timed out. dtmd: RetryLater's cron pass moved past timeout_to_fail. Reference: its own cron,
  // within ~1-3 s when the msg times out after 1 s and is first due after 2 s (BoltDB's cron
  // index has whole seconds, so a transaction may be picked up to 1 s early: due after 1 s it
  // could be picked before its timeout, and then only again after RetryInterval, 10 s).
  template <class T>
  static void BackCheckSoonOnReference(T& msg) {
    if (kReferenceServer) msg.SetTimeoutToFail(1).SetRetryInterval(2);
  }

  // Awaits the end of gid's first processing pass when that pass does not finish it (a branch
  // answered ONGOING or an error). dtmd counts passes; the reference server does not: there the
  // pass has made its call once busi recorded a call of `route` for gid (the status a test then
  // reads is the one the pass leaves, the retry is seconds away).
  bool WaitFirstPass(const std::string& gid, const std::string& route) {
    if (!kReferenceServer) return dtm_.WaitPasses(gid, 1);
    bool called = WaitUntil([&] { return !busi_.Calls(route, gid).empty(); });
    EXPECT_TRUE(called) << "no call of " << route << " for " << gid;
    return called;
  }

  // The server retries gid, which must then reach `final_status`. dtmd: one cron pass with the
  // clock `forward_s` seconds ahead (past the back-off). Reference: its own cron does it, given
  // the transaction's retry_interval was kReferenceRetryInterval.
  void RetryLater(const std::string& gid, int64_t forward_s, const std::string& final_status) {
    if (kReferenceServer) {
      dtm_.WaitStatus(gid, final_status, std::chrono::seconds(20));
    } else {
      EXPECT_EQ(dtm_.CronOnce(forward_s), gid);
      dtm_.WaitStatus(gid, final_status, std::chrono::seconds(10));
    }
  }

  // Branch op of every busi call of gid as "<route>/<branch_id>/<op>", in arrival order.
  std::vector<std::string> CallLog(const std::string& gid) const {
    std::vector<std::string> out;
    for (const auto& c : busi_.Calls("", gid)) {
      out.push_back(c.route + "/" + c.Query("branch_id") + "/" + c.Query("op"));
    }
    return out;
  }

  // What XaLocalTransaction does on the branch side after its local work: register the branch
  // with DTM, with the phase-2 URL and branch id the SDK sent in the action call.
  void RegisterXaBranchAsTheBusiWould(const std::string& gid, const std::string& route) {
    auto calls = busi_.Calls(route, gid);
    ASSERT_FALSE(calls.empty()) << route;
    const BusiCall& c = calls.back();
    dtm::Json body = {{"gid", gid},
                      {"trans_type", "xa"},
                      {"branch_id", c.Query("branch_id")},
                      {"url", c.Query("phase2_url")}};
    auto res = dtm_.Post("registerBranch", body.dump());
    ASSERT_EQ(res.status, 200) << res.body;
  }

  std::unique_ptr<dtm::DTMClient> client_;
};

}  // namespace lynx::it
