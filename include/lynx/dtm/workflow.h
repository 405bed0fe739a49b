// Workflow (dtm-protocol.md §5.6; Go's client/workflow): the business is a plain function, and
// every step it takes — an HTTP or gRPC call, a local action under the barrier, an XA local
// transaction — is recorded with DTM as it completes. When the process dies mid-way, DTM calls
// the client back and the function runs again: recorded steps return their recorded results
// without running, the rest runs, and the outcome is submitted. A function that returns a
// Failure rolls back: the OnRollback callbacks of the branches run last-registered first; on
// success the OnCommit callbacks run the same way.
//   lynx::dtm::WorkflowEngine engine = lynx::dtm::WorkflowEngine::Http(dtm_url, callback_url);
//   engine.Register("transfer", [&](lynx::dtm::Workflow& wf, const std::string& input)
//                                   -> lynx::StatusOr<std::string> {
//     wf.NewBranch().OnRollback([&](lynx::dtm::BranchBarrier& bb) {
//       return wf.CallHttp("POST", busi + "/TransOutCompensate", input).status();
//     });
//     if (auto out = wf.CallHttp("POST", busi + "/TransOut", input); !out.ok()) return out;
//     wf.NewBranch().OnRollback(...);
//     return wf.CallHttp("POST", busi + "/TransIn", input);
//   });
//   engine.ServeHttp(branch_server, "/workflow/resume");   // callback_url's path, before Start
//   lynx::StatusOr<std::string> result = engine.Execute("transfer", gid, input);
// Over gRPC: WorkflowEngine::Grpc(grpc_server, callback_host) and ServeGrpc(grpc_branch_server)
// (DTM calls /workflow.Workflow/Execute on callback_host).
//
// The function must be deterministic: a resumed run takes the steps the first run took, in the
// same order. Unlike DTM's SDKs, a resumed run that takes another step than the recorded one (a
// different kind, method or URL) stops with an Internal "diverged" error before that step runs,
// and so does a run that finishes without replaying every recorded step; the workflow stays
// unfinished (DTM keeps resuming it) until the code is fixed. The step records carry the step's
// description for this check (a first line "lynx-wf <kind> <target>" before the result bytes).
//
// Results: Execute returns the function's result once the workflow succeeded, a Failure (its
// message the rollback reason) once it failed, and any other error when it is not finished (an
// Ongoing or error from the function or a step, a DTM call that failed): the recorded steps
// stay and the next Execute — by the program or by DTM's callback — carries on from there.
// Mistakes Go answers with a panic (two actions in one branch, NewBranch inside a phase-2
// callback, a phase-2 callback returning a Failure) make the steps that follow return Internal
// and Execute return that error without submitting; an exception thrown by the function or a
// step propagates out of Execute, the workflow left unfinished.
//
// Timeouts: a workflow prepared with options.timeout_to_fail that dtmd sees unfinished after that
// many seconds turns aborting (not in DTM, which never times a workflow out). When it is resumed,
// recorded steps replay, the first new action step fails without running (a Failure "timed
// out") and the workflow rolls back.
//
// WorkflowEngine is thread-safe (copies share their registrations); a Workflow is used by the
// thread running its function.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <lynx/context.h>
#include <lynx/dtm/barrier.h>
#include <lynx/dtm/grpc.h>
#include <lynx/dtm/sql.h>
#include <lynx/dtm/trans_base.h>
#include <lynx/status.h>

namespace lynx::dtm {

class Workflow;
class HttpBranchServer;
class GrpcBranchServer;

// The function of a workflow: its result bytes, or the status that ends or suspends it (a
// Failure rolls back; anything else leaves it unfinished).
using WorkflowFunction =
    std::function<StatusOr<std::string>(Workflow& wf, const std::string& input)>;
// A commit / rollback callback; its barrier names the branch and op (commit or rollback).
using WorkflowPhase2 = std::function<Status(BranchBarrier& bb)>;

struct WorkflowOptions {
  // Go's CompensateErrorBranch: also run the OnRollback callback of the branch whose action
  // failed (for actions that may have taken effect although they answered a failure, e.g. a
  // timeout). Without it, that branch is not compensated.
  bool compensate_error_branch = false;
  // Sent with prepareWorkflow: request_timeout (also bounds this client's calls),
  // retry_interval, timeout_to_fail (see above), branch_headers (also sent on CallHttp / CallGrpc
  // as headers / metadata).
  TransOptions trans = {};
};

class Workflow : public TransBase {
 public:
  const std::string& name() const { return name_; }
  // The branch the next step belongs to ("" before the first NewBranch) and the op of the code
  // running now: "action" in the function, "commit" / "rollback" in phase-2 callbacks.
  const std::string& branch_id() const { return current_branch_; }
  const std::string& op() const { return current_op_; }

  // Starts the next branch ("01", "02", ...): each branch has at most one action step, one
  // OnCommit and one OnRollback.
  Workflow& NewBranch();
  // The current branch's compensation (saga) / cancel (TCC), run when the workflow rolls back.
  Workflow& OnRollback(WorkflowPhase2 fn);
  // The current branch's confirm (TCC), run when the workflow succeeds.
  Workflow& OnCommit(WorkflowPhase2 fn);
  // Both, with is_rollback telling which.
  Workflow& OnFinish(std::function<Status(BranchBarrier& bb, bool is_rollback)> fn);

  // A recorded local action: fn runs once (its barrier names this branch and op "action"); its
  // result — bytes, or a Failure and its message — is recorded and replayed on resume. Other
  // statuses are returned without being recorded (the step runs again on resume).
  StatusOr<std::string> Do(const std::function<StatusOr<std::string>(BranchBarrier& bb)>& fn);
  // An XA local transaction on PostgreSQL or MySQL/MariaDB (Go's DoXa): fn's work is prepared
  // (XA PREPARE / PREPARE TRANSACTION) as this branch's action, and committed or rolled back when
  // the workflow ends. A resume that finds the work prepared but its result unrecorded rolls the
  // workflow back (the prepared transaction cannot be taken over), as Go does. Registers the
  // branch's commit and rollback: no OnCommit / OnRollback on the same branch.
  StatusOr<std::string> DoXa(const DBConf& conf,
                             const std::function<StatusOr<std::string>(SqlDb& db)>& fn);

  // A recorded HTTP call (Go's wf.NewRequest()): the query gets gid, trans_type, branch_id and
  // op; 200 -> the body, 409 -> a Failure (recorded, its message the body), 425 -> Ongoing, any
  // other status or a transport error -> an error (not recorded). In a phase-2 callback the call
  // is not recorded by itself (the callback's outcome is).
  StatusOr<std::string> CallHttp(const std::string& method, const std::string& url,
                                 const std::string& body = "",
                                 const std::map<std::string, std::string>& headers = {});
  // A recorded gRPC call (Go's workflow.Interceptor) of url "host:port/pkg.Service/Method" with
  // the request message's bytes and the dtm-* metadata; the reply message's bytes. ABORTED -> a
  // Failure (recorded), FAILED_PRECONDITION -> Ongoing, other codes -> errors (not recorded).
  StatusOr<std::string> CallGrpc(const std::string& url, const std::string& request);
  // The same with protobuf messages (any type with SerializeAsString / ParseFromString).
  template <class Req, class Reply>
  Status CallGrpc(const std::string& url, const Req& request, Reply* reply) {
    auto bytes = CallGrpc(url, request.SerializeAsString());
    if (!bytes.ok()) return bytes.status();
    if (!reply->ParseFromString(*bytes)) {
      return Status::Internal("malformed reply message from " + url);
    }
    return Status::Ok();
  }

 private:
  friend class WorkflowEngine;
  struct Step {
    std::string status;  // succeed | failed
    std::string kind;    // the recorded step's description ("" when recorded without one)
    std::string data;    // result bytes, or the failure's message
  };
  struct Phase2 {
    std::string branch_id;
    WorkflowPhase2 fn;
  };
  struct StepResult {         // every field initialised, so that {status, error} may omit the rest
    std::string status = "";  // succeed | failed | "" (not recorded)
    Status error = {};        // Ok, the Failure, or an unrecorded status
    std::string data = "";
    bool keep_compensation = false;  // the action may have taken effect
  };

  Workflow(std::string server_url, std::string gid, std::string name, std::string input, bool grpc,
           GrpcTlsOptions tls, std::string callback, const WorkflowOptions& options);

  // Go's recordedDo: replays the step recorded for (branch, op) or runs fn and records it.
  StepResult RecordedDo(const std::string& kind, const std::function<StepResult()>& fn);
  StepResult RecordedDoInner(const std::string& kind, const std::function<StepResult()>& fn);
  Status SaveStep(const std::string& branch_id, const std::string& op, const std::string& kind,
                  const StepResult& r);
  StepResult Replay(const std::string& key, const std::string& kind);
  // prepareWorkflow: creates the workflow or reads its progress (workflow_engine.cc).
  StatusOr<std::string> Start(const WorkflowFunction& fn);
  // The steps of a run: the function, then phase 2, then the submit.
  StatusOr<std::string> Run(const WorkflowFunction& fn);
  Status RunPhase2(const Status& outcome);
  Status CheckAllReplayed() const;
  Status Submit(const std::string& result, const Status& outcome);
  Status Misuse(std::string message);
  StatusOr<std::string> RawHttp(const std::string& method, const std::string& url,
                                const std::string& body,
                                const std::map<std::string, std::string>& headers);

  std::string name_;
  std::string input_;
  bool compensate_error_branch_ = false;
  bool timed_out_ = false;  // dtmd set the workflow aborting: no new action
  std::string timeout_reason_;
  std::string current_branch_;
  std::string current_op_ = "action";
  bool action_added_ = false;
  bool commit_added_ = false;
  bool rollback_added_ = false;
  std::map<std::string, Step> progress_;  // "<branch_id>-<op>"
  std::set<std::string> replayed_;
  std::vector<Phase2> on_commit_;
  std::vector<Phase2> on_rollback_;
  Status misuse_;
};

class WorkflowEngine {
 public:
  // Workflows talking to DTM over HTTP at server_url; dtmd resumes them with an HTTP call to
  // callback_url (the URL ServeHttp answers on).
  static WorkflowEngine Http(std::string server_url, std::string callback_url);
  // Over gRPC at grpc_server (host:port); dtmd resumes them with a gRPC call to
  // callback_host/workflow.Workflow/Execute (a GrpcBranchServer with ServeGrpc). `tls`: of the
  // connection to DTM.
  static WorkflowEngine Grpc(std::string grpc_server, std::string callback_host,
                             GrpcTlsOptions tls = {});

  // Registers a workflow under `name` (InvalidArgument when the name is empty or taken). Register
  // every workflow at start-up, before Execute or the callback server may run it.
  // Without options the engine's defaults apply (SetDefaultOptions; DTMClient's engines take
  // request_timeout and retry_interval from lynx.dtm).
  Status Register(const std::string& name, WorkflowFunction fn);
  Status Register(const std::string& name, WorkflowFunction fn, WorkflowOptions options);

  // Runs workflow `name` as gid: creates it with `input` or resumes it (the recorded input is
  // then used, as DTM passes it back). See the header comment for the results. A second Execute
  // of a gid this engine is running answers Ongoing at once.
  StatusOr<std::string> Execute(const std::string& name, const std::string& gid,
                                const std::string& input, const Context& ctx = Context());

  // Routes POST and GET `path` on `server` to the resume callback (query op = the workflow's
  // name, gid; body = input). Its answer: 200 once the workflow finished, 409 when it failed,
  // 425 / 500 when it is still unfinished.
  void ServeHttp(HttpBranchServer& server, const std::string& path) const;
  // Handles /workflow.Workflow/Execute on `server` (metadata dtm-op, dtm-gid; WorkflowData).
  void ServeGrpc(GrpcBranchServer& server) const;

  // Sets the callback dtmd resumes workflows at (HTTP: the URL; gRPC: host:port), for a program
  // that learns its own address only once its server started (port 0). Before the first
  // Execute.
  void SetCallback(const std::string& callback);

  // The options of workflows registered without their own; and the names of the headers of
  // Execute's context passed on to the steps' calls (DTMClient's pass_through_headers).
  void SetDefaultOptions(WorkflowOptions options);
  void SetPassThroughHeaders(std::vector<std::string> names);

 private:
  struct Impl;
  explicit WorkflowEngine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace lynx::dtm
