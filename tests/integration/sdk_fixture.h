// The fixture of the client SDK's integration tests: the real dtmd and busi_server of
// IntegrationTest plus a started lynx::dtm::DTMClient configured for them (pass-through headers
// X-Request-Id, test_header, Authorization). Used from the test thread.
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
    c.max_connection_retries = 1;
    return c;
  }

  std::string B(const std::string& route) const { return busi_.Url(route); }

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
