// TCC and XA over HTTP (dtm-protocol.md §5.4, §5.5, §13.4, §13.5). The test plays the client
// SDK (and, for XA, the branch's registration with dtmd): prepare, registerBranch, the try / action
// call, then submit or abort.
#include <boost/json.hpp>

#include <regex>

#include "harness.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;

// A branch reply as the Go SDK judges it (TransCallDtmExt / HTTPResp2DtmError): an error when
// the status is not 200 or the body says FAILURE.
bool BranchOk(const HttpResponse& r) {
  return r.status == 200 && r.body.find("FAILURE") == std::string::npos &&
         r.body.find("ONGOING") == std::string::npos;
}

std::string Body(const bj::object& o) { return bj::serialize(o); }

class TccTest : public IntegrationTest {
 protected:
  TransRequest Tcc(const std::string& gid) const {
    TransRequest r;
    r.gid = gid;
    r.trans_type = "tcc";
    return r;
  }

  HttpResponse Register(const std::string& gid, const std::string& branch_id,
                        const std::string& data, const std::string& confirm,
                        const std::string& cancel) {
    return dtm_.Post("registerBranch", Body({{"data", data},
                                             {"branch_id", branch_id},
                                             {"confirm", busi_.Url(confirm)},
                                             {"cancel", busi_.Url(cancel)},
                                             {"gid", gid},
                                             {"trans_type", "tcc"}}));
  }

  HttpResponse Try(const std::string& gid, const std::string& branch_id, const std::string& route,
                   const std::string& data, const Headers& headers = {}) {
    return Http(busi_.port(), "POST",
                WithQuery("/api/busi/" + route, {{"dtm", dtm_.Url()},
                                                 {"gid", gid},
                                                 {"trans_type", "tcc"},
                                                 {"branch_id", branch_id},
                                                 {"op", "try"}}),
                data, headers);
  }

  // The SDK's CallBranch: register cancel+confirm, then call try. The try's reply, or the
  // registration's when that failed.
  HttpResponse CallBranch(const std::string& gid, const std::string& branch_id,
                          const std::string& data, const std::string& try_route,
                          const std::string& confirm, const std::string& cancel,
                          const Headers& headers = {}) {
    HttpResponse reg = Register(gid, branch_id, data, confirm, cancel);
    if (reg.status != 200) return reg;
    return Try(gid, branch_id, try_route, data, headers);
  }

  // Confirm/cancel calls of gid, in arrival order.
  std::vector<std::string> PhaseTwo(const std::string& gid) { return CallsExceptOp(gid, "try"); }
};

TEST_F(TccTest, Normal) {
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  ASSERT_EQ(Prepare(Tcc(gid)).status, 200);
  ASSERT_TRUE(
      BranchOk(CallBranch(gid, "01", data, "TransOut", "TransOutConfirm", "TransOutRevert")));
  ASSERT_TRUE(BranchOk(CallBranch(gid, "02", data, "TransIn", "TransInConfirm", "TransInRevert")));
  ASSERT_EQ(Submit(Tcc(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  // Confirms run from the last registered branch to the first, with the registered data.
  EXPECT_EQ(PhaseTwo(gid),
            (std::vector<std::string>{"TransInConfirm/02/confirm", "TransOutConfirm/01/confirm"}));
  for (const auto& c : busi_.Calls("TransInConfirm", gid)) {
    EXPECT_EQ(c.method, "POST");
    EXPECT_EQ(c.body, data);
    EXPECT_EQ(c.Query("trans_type"), "tcc");
  }
}

TEST_F(TccTest, RollbackWithCancelOngoingOnce) {
  const std::string gid = TestName();
  const std::string data = BusiPayload("", "FAILURE");
  ASSERT_EQ(Prepare(Tcc(gid)).status, 200);
  ASSERT_TRUE(
      BranchOk(CallBranch(gid, "01", data, "TransOut", "TransOutConfirm", "TransOutRevert")));
  busi_.Script("TransOutRevert", {"ONGOING"});
  HttpResponse tried = CallBranch(gid, "02", data, "TransIn", "TransInConfirm", "TransInRevert");
  ASSERT_FALSE(BranchOk(tried));
  auto abort = Tcc(gid);
  abort.rollback_reason = tried.body + " FAILURE";  // what the SDK's error text looks like
  ASSERT_EQ(Abort(abort).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kAborting);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kPrepared, kSucceed, kPrepared}));
  EXPECT_NE(dtm_.RollbackReason(gid).find("FAILURE"), std::string::npos);
  EXPECT_EQ(PhaseTwo(gid),
            (std::vector<std::string>{"TransInRevert/02/cancel", "TransOutRevert/01/cancel",
                                      "TransOutRevert/01/cancel"}));
}

// tcc_test TestTccTimeout: the cron times the transaction out between two branches.
TEST_F(TccTest, Timeout) {
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  ASSERT_EQ(Prepare(Tcc(gid)).status, 200);
  ASSERT_TRUE(
      BranchOk(CallBranch(gid, "01", data, "TransOut", "TransOutConfirm", "TransOutRevert")));
  EXPECT_EQ(dtm_.CronOnce(300), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  const std::string reason = dtm_.RollbackReason(gid);
  EXPECT_TRUE(std::regex_match(reason, std::regex(R"(^Timeout after \d+ seconds$)"))) << reason;
  HttpResponse late = CallBranch(gid, "02", data, "TransIn", "TransInConfirm", "TransInRevert");
  EXPECT_EQ(late.status, 409) << late.body;
  EXPECT_TRUE(busi_.Calls("TransIn", gid).empty()) << "no try after a refused registration";
  auto abort = Tcc(gid);
  abort.rollback_reason = late.body;
  EXPECT_EQ(Abort(abort).status, 409);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kPrepared}));
  EXPECT_EQ(PhaseTwo(gid), (std::vector<std::string>{"TransOutRevert/01/cancel"}));
}

TEST_F(TccTest, BranchHeadersReachConfirm) {
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  auto tcc = Tcc(gid);
  tcc.branch_headers = {{"test_header", "test"}};
  ASSERT_EQ(Prepare(tcc).status, 200);
  ASSERT_TRUE(BranchOk(CallBranch(gid, "01", data, "TransOutHeaderYes", "TransOutConfirm",
                                  "TransOutRevert", {{"test_header", "test"}})));
  busi_.Script("TransOutConfirm", {"ONGOING"});
  ASSERT_EQ(Submit(tcc).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(180), gid);  // the retry reads the headers back from storage
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed}));
  auto confirms = busi_.Calls("TransOutConfirm", gid);
  ASSERT_EQ(confirms.size(), 2u);
  for (const auto& c : confirms) EXPECT_EQ(c.Header("test_header"), "test");
}

TEST_F(TccTest, OldStyleNormal) {
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  ASSERT_EQ(Prepare(Tcc(gid)).status, 200);
  ASSERT_TRUE(BranchOk(
      CallBranch(gid, "01", data, "TransOutOld", "TransOutConfirmOld", "TransOutRevertOld")));
  ASSERT_TRUE(
      BranchOk(CallBranch(gid, "02", data, "TransInOld", "TransInConfirmOld", "TransInRevertOld")));
  ASSERT_EQ(Submit(Tcc(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
}

TEST_F(TccTest, OldStyleRollback) {
  // Pre-1.10 handlers answer 200 with {"dtm_result":"FAILURE"} / {"dtm_result":"ONGOING"}.
  const std::string gid = TestName();
  const std::string data = BusiPayload("", "FAILURE");
  ASSERT_EQ(Prepare(Tcc(gid)).status, 200);
  ASSERT_TRUE(BranchOk(
      CallBranch(gid, "01", data, "TransOutOld", "TransOutConfirmOld", "TransOutRevertOld")));
  busi_.Script("TransOutRevertOld", {"ONGOING"});
  HttpResponse tried =
      CallBranch(gid, "02", data, "TransInOld", "TransInConfirmOld", "TransInRevertOld");
  ASSERT_EQ(tried.status, 200);
  ASSERT_FALSE(BranchOk(tried)) << tried.body;
  auto abort = Tcc(gid);
  abort.rollback_reason = tried.body;
  ASSERT_EQ(Abort(abort).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kAborting);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kPrepared, kSucceed, kPrepared}));
}

TEST_F(TccTest, OldStyleTimeout) {
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  ASSERT_EQ(Prepare(Tcc(gid)).status, 200);
  ASSERT_TRUE(BranchOk(
      CallBranch(gid, "01", data, "TransOutOld", "TransOutConfirmOld", "TransOutRevertOld")));
  EXPECT_EQ(dtm_.CronOnce(300), gid);
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  HttpResponse late =
      CallBranch(gid, "02", data, "TransInOld", "TransInConfirmOld", "TransInRevertOld");
  EXPECT_FALSE(BranchOk(late));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kPrepared}));
}

TEST_F(TccTest, NestedBranch) {
  // The try of branch 01 is itself a TCC client: it registers the sub-branch 0101.
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  ASSERT_EQ(Prepare(Tcc(gid)).status, 200);
  ASSERT_EQ(Register(gid, "01", data, "TransOutConfirm", "TransOutRevert").status, 200);
  ASSERT_TRUE(BranchOk(Try(gid, "01", "TransOut", data)));
  ASSERT_TRUE(
      BranchOk(CallBranch(gid, "0101", data, "TransIn", "TransInConfirm", "TransInRevert")));
  ASSERT_TRUE(BranchOk(CallBranch(gid, "02", data, "TransIn", "TransInConfirm", "TransInRevert")));
  ASSERT_EQ(Submit(Tcc(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid),
            Statuses({kPrepared, kSucceed, kPrepared, kSucceed, kPrepared, kSucceed}));
  EXPECT_EQ(PhaseTwo(gid),
            (std::vector<std::string>{"TransInConfirm/02/confirm", "TransInConfirm/0101/confirm",
                                      "TransOutConfirm/01/confirm"}));
}

TEST_F(TccTest, RegisterBranchRules) {
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  EXPECT_EQ(Register(gid, "01", data, "TransOutConfirm", "TransOutRevert").status, 409)
      << "no such transaction";
  ASSERT_EQ(Prepare(Tcc(gid)).status, 200);
  EXPECT_EQ(Register(gid, "01", data, "TransOutConfirm", "TransOutRevert").status, 200);
  auto dup = Register(gid, "01", data, "TransOutConfirm", "TransOutRevert");
  EXPECT_EQ(dup.status, 500) << dup.body;
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kPrepared}));
  ASSERT_EQ(Submit(Tcc(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(Register(gid, "02", data, "TransInConfirm", "TransInRevert").status, 409)
      << "not prepared any more";
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed}));
  EXPECT_EQ(Submit(Tcc(gid)).status, 409) << "succeeded";
}

TEST_F(TccTest, WaitResultPropagatesBranchErrors) {
  // §6.6: with wait_result a tcc confirm error comes back as is: ONGOING 425, FAILURE 409
  // (FAILURE of a confirm is retried, never final), other errors 500.
  const std::string data = BusiPayload();
  const std::vector<std::pair<std::string, int>> cases = {
      {"ONGOING", 425}, {"FAILURE", 409}, {"ERROR", 500}, {"SUCCESS", 200}};
  for (const auto& [result, status] : cases) {
    const std::string gid = TestName() + "-" + result;
    auto tcc = Tcc(gid);
    tcc.wait_result = true;
    ASSERT_EQ(Prepare(tcc).status, 200);
    ASSERT_TRUE(
        BranchOk(CallBranch(gid, "01", data, "TransOut", "TransOutConfirm", "TransOutRevert")));
    busi_.Script("TransOutConfirm", {result});
    auto res = Submit(tcc);
    EXPECT_EQ(res.status, status) << result << ": " << res.body;
    EXPECT_EQ(dtm_.Status(gid), result == "SUCCESS" ? kSucceed : kSubmitted) << result;
  }
}

TEST_F(TccTest, RepeatedAbortUpdatesReason) {
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  ASSERT_EQ(Prepare(Tcc(gid)).status, 200);
  ASSERT_TRUE(
      BranchOk(CallBranch(gid, "01", data, "TransOut", "TransOutConfirm", "TransOutRevert")));
  busi_.Script("TransOutRevert", {"ERROR"});
  auto abort = Tcc(gid);
  abort.rollback_reason = "first reason";
  ASSERT_EQ(Abort(abort).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kAborting);
  EXPECT_EQ(dtm_.RollbackReason(gid), "first reason");
  abort.rollback_reason = "second reason";
  ASSERT_EQ(Abort(abort).status, 200) << "aborting -> aborting is allowed";
  ASSERT_TRUE(dtm_.WaitPasses(gid, 2));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.RollbackReason(gid), "second reason");
  EXPECT_EQ(busi_.Calls("TransOutRevert", gid).size(), 2u);
  auto saga_abort = Tcc(gid);
  saga_abort.trans_type = "saga";
  EXPECT_EQ(Abort(saga_abort).status, 409) << "abort checks the request's trans_type";
}

// ---------------------------------------------------------------------------------------------
// XA

class XaTest : public IntegrationTest {
 protected:
  TransRequest Xa(const std::string& gid) const {
    TransRequest r;
    r.gid = gid;
    r.trans_type = "xa";
    return r;
  }

  // The SDK's xa.CallBranch plus what the branch's XaLocalTransaction does: the action call
  // (with phase2_url), and on success the registration of the phase-2 URL.
  HttpResponse CallBranch(const std::string& gid, const std::string& branch_id,
                          const std::string& route, const std::string& data) {
    HttpResponse res = Http(busi_.port(), "POST",
                            WithQuery("/api/busi/" + route, {{"dtm", dtm_.Url()},
                                                             {"gid", gid},
                                                             {"trans_type", "xa"},
                                                             {"branch_id", branch_id},
                                                             {"op", "action"},
                                                             {"phase2_url", busi_.Url(route)}}),
                            data);
    if (!BranchOk(res)) return res;  // the local XA rolled back; nothing registered
    HttpResponse reg = dtm_.Post("registerBranch", Body({{"gid", gid},
                                                         {"branch_id", branch_id},
                                                         {"trans_type", "xa"},
                                                         {"url", busi_.Url(route)}}));
    return reg.status == 200 ? res : reg;
  }

  // Commit/rollback calls of gid, in arrival order.
  std::vector<std::string> PhaseTwo(const std::string& gid) { return CallsExceptOp(gid, "action"); }
};

TEST_F(XaTest, Normal) {
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  ASSERT_EQ(Prepare(Xa(gid)).status, 200);
  ASSERT_TRUE(BranchOk(CallBranch(gid, "01", "TransOutXa", data)));
  ASSERT_TRUE(BranchOk(CallBranch(gid, "02", "TransInXa", data)));
  ASSERT_EQ(Submit(Xa(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed, kPrepared, kSucceed}));
  // Commits in ascending order, POST with an empty body.
  EXPECT_EQ(PhaseTwo(gid),
            (std::vector<std::string>{"TransOutXa/01/commit", "TransInXa/02/commit"}));
  for (const auto& c : busi_.Calls("", gid)) {
    if (c.Query("op") != "commit") continue;
    EXPECT_EQ(c.method, "POST");
    EXPECT_EQ(c.body, "");
    EXPECT_EQ(c.Query("trans_type"), "xa");
  }
}

TEST_F(XaTest, SecondBranchFailsLocally) {
  const std::string gid = TestName();
  const std::string data = BusiPayload("", "FAILURE");
  ASSERT_EQ(Prepare(Xa(gid)).status, 200);
  ASSERT_TRUE(BranchOk(CallBranch(gid, "01", "TransOutXa", data)));
  ASSERT_FALSE(BranchOk(CallBranch(gid, "02", "TransInXa", data)));
  ASSERT_EQ(Abort(Xa(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kPrepared}));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(PhaseTwo(gid), (std::vector<std::string>{"TransOutXa/01/rollback"}));
}

TEST_F(XaTest, ClientAborts) {
  const std::string gid = TestName();
  const std::string data = BusiPayload();
  ASSERT_EQ(Prepare(Xa(gid)).status, 200);
  ASSERT_TRUE(BranchOk(CallBranch(gid, "01", "TransOutXa", data)));
  ASSERT_TRUE(BranchOk(CallBranch(gid, "02", "TransInXa", data)));
  ASSERT_EQ(Abort(Xa(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, 1));
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kSucceed, kPrepared, kSucceed, kPrepared}));
  EXPECT_EQ(PhaseTwo(gid),
            (std::vector<std::string>{"TransOutXa/01/rollback", "TransInXa/02/rollback"}));
  EXPECT_EQ(Submit(Xa(gid)).status, 409);
}

TEST_F(XaTest, TimeoutBeforeAnyBranch) {
  const std::string gid = TestName();
  ASSERT_EQ(Prepare(Xa(gid)).status, 200);
  EXPECT_EQ(dtm_.CronOnce(300), gid);
  auto submit = Submit(Xa(gid));
  EXPECT_EQ(submit.status, 409) << submit.body;
  EXPECT_EQ(dtm_.Status(gid), kFailed);
  const std::string reason = dtm_.RollbackReason(gid);
  EXPECT_TRUE(std::regex_match(reason, std::regex(R"(^Timeout after \d+ seconds$)"))) << reason;
  EXPECT_TRUE(dtm_.BranchStatuses(gid).empty());
}

TEST_F(XaTest, CronWithoutTimeoutThenCommitOngoingOnce) {
  const std::string gid = TestName();
  ASSERT_EQ(Prepare(Xa(gid)).status, 200);
  EXPECT_EQ(dtm_.CronOnce(15), gid);  // leased but not timed out: no effect
  EXPECT_EQ(dtm_.Status(gid), kPrepared);
  ASSERT_TRUE(BranchOk(CallBranch(gid, "01", "TransOutXa", BusiPayload())));
  busi_.Script("TransOutXa", {"ONGOING"});  // the commit
  const int64_t passes = dtm_.Passes(gid);  // the cron pass above counts too
  ASSERT_EQ(passes, 1);
  ASSERT_EQ(Submit(Xa(gid)).status, 200);
  ASSERT_TRUE(dtm_.WaitPasses(gid, passes + 1));
  EXPECT_EQ(dtm_.Status(gid), kSubmitted);
  EXPECT_EQ(dtm_.CronOnce(180), gid);
  EXPECT_EQ(dtm_.Status(gid), kSucceed);
  EXPECT_EQ(dtm_.BranchStatuses(gid), Statuses({kPrepared, kSucceed}));
  EXPECT_EQ(PhaseTwo(gid),
            (std::vector<std::string>{"TransOutXa/01/commit", "TransOutXa/01/commit"}));
}

}  // namespace
}  // namespace lynx::it
