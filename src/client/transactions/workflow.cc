// A workflow run (Go's client/workflow imp.go and workflow.go): steps recorded with DTM as they
// complete and replayed from the progress on resume, phase 2 in reverse registration order, the
// submit. What differs from Go is said where it happens: divergence detection, misuse answered
// with an error instead of a panic, a step whose record DTM refused keeping its compensation, and
// the timed-out (aborting) mode.
#include <lynx/dtm/workflow.h>

#include <nlohmann/json.hpp>

#include "client/transactions/workflow_progress.h"
#include "client/transactions/xa_local.h"
#include "client/transports/call_util.h"
#include "client/transports/grpc_request.h"
#include "client/transports/grpc_transport.h"
#include "common/ascii.h"
#include "common/base64.h"

namespace lynx::dtm {

namespace {

constexpr char kSucceed[] = "succeed";
constexpr char kFailed[] = "failed";
constexpr char kAction[] = "action";
// The SQL stores keep a workflow's rollback_reason in 1 KiB (dtmd refuses more).
constexpr size_t kMaxRollbackReason = 1000;

// A URL without its query: the part of an HTTP step's description that must not change.
std::string WithoutQuery(const std::string& url) { return url.substr(0, url.find('?')); }

// `text` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string CutUtf8(const std::string& text, size_t max) {
  if (text.size() <= max) return text;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

}  // namespace

Workflow::Workflow(std::string server_url, std::string gid, std::string name, std::string input,
                   bool grpc, GrpcTlsOptions tls, std::string callback,
                   const WorkflowOptions& options)
    : TransBase(std::move(server_url), std::move(gid), "workflow"),
      name_(std::move(name)),
      input_(std::move(input)),
      compensate_error_branch_(options.compensate_error_branch) {
  options_ = options.trans;
  if (grpc) UseGrpc(std::move(tls));
  query_prepared_ = std::move(callback);
  // Go marshals map{"name", "data": []byte}: keys sorted, the input in base64.
  custom_data_ = nlohmann::json{{"data", Base64Encode(input_)}, {"name", name_}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status Workflow::Misuse(std::string message) {
  if (misuse_.ok()) {
    misuse_ = Status::Internal("workflow " + name_ + " (gid " + gid_ + "): " + std::move(message));
  }
  return misuse_;
}

Workflow& Workflow::NewBranch() {
  if (current_op_ != kAction) {
    Misuse("NewBranch() inside a " + current_op_ + " callback");
    return *this;
  }
  auto id = branch_ids_.NewSubBranchId();
  if (!id.ok()) {
    Misuse(id.status().message());
    return *this;
  }
  current_branch_ = *id;
  action_added_ = commit_added_ = rollback_added_ = false;
  return *this;
}

Workflow& Workflow::OnRollback(WorkflowPhase2 fn) {
  if (rollback_added_) {
    Misuse("branch " + current_branch_ + " has a second rollback callback");
  } else {
    rollback_added_ = true;
    on_rollback_.push_back({current_branch_, std::move(fn)});
  }
  return *this;
}

Workflow& Workflow::OnCommit(WorkflowPhase2 fn) {
  if (commit_added_) {
    Misuse("branch " + current_branch_ + " has a second commit callback");
  } else {
    commit_added_ = true;
    on_commit_.push_back({current_branch_, std::move(fn)});
  }
  return *this;
}

Workflow& Workflow::OnFinish(std::function<Status(BranchBarrier&, bool)> fn) {
  OnCommit([fn](BranchBarrier& bb) { return fn(bb, false); });
  return OnRollback([fn](BranchBarrier& bb) { return fn(bb, true); });
}

namespace {

// A local outcome as a step result: Ok and Failure are recorded, anything else is not.
template <class R>
R FromLocal(const StatusOr<std::string>& res) {
  R r;
  if (res.ok()) {
    r.status = kSucceed;
    r.data = *res;
  } else {
    r.error = res.status();
    if (res.status().IsFailure()) {
      r.status = kFailed;
      r.data = res.status().message();
    }
  }
  return r;
}

}  // namespace

Workflow::StepResult Workflow::RecordedDo(const std::string& kind,
                                          const std::function<StepResult()>& fn) {
  StepResult r = RecordedDoInner(kind, fn);
  // Go's rule: the branch whose action failed is not compensated unless asked; but a step whose
  // record DTM refused may have taken effect, so its compensation stays.
  if (!compensate_error_branch_ && r.status == kFailed && !r.keep_compensation &&
      !on_rollback_.empty() && on_rollback_.back().branch_id == current_branch_) {
    on_rollback_.pop_back();
  }
  return r;
}

Workflow::StepResult Workflow::RecordedDoInner(const std::string& kind,
                                               const std::function<StepResult()>& fn) {
  if (!misuse_.ok()) return {"", misuse_};
  if (current_op_ == kAction) {
    if (action_added_) {
      return {"", Misuse("branch " + current_branch_ +
                         " has a second action step (start a new branch with NewBranch())")};
    }
    action_added_ = true;
  }
  const std::string key = current_branch_ + "-" + current_op_;
  if (progress_.count(key) != 0) return Replay(key, kind);
  if (timed_out_ && current_op_ == kAction) {
    // dtmd would refuse the record: the step does not run and the workflow rolls back.
    return {kFailed, Status::Failure(timeout_reason_ + ": step " + current_branch_ + " not run"),
            timeout_reason_};
  }
  StepResult r = fn();
  if (r.status.empty()) return r;
  if (Status st = SaveStep(current_branch_, current_op_, kind, r); !st.ok()) {
    // The step ran but is not recorded. A refusal (the workflow timed out meanwhile, or a
    // concurrent run recorded another outcome) ends the workflow in a rollback that compensates
    // this step too; another error leaves the workflow to be resumed, the step to run again.
    StepResult out{st.IsFailure() ? kFailed : "", st, "", true};
    return out;
  }
  return r;
}

Status Workflow::SaveStep(const std::string& branch_id, const std::string& op,
                          const std::string& kind, const StepResult& r) {
  return RegisterBranch({{"data", internal::EncodeStepRecord(kind, r.data)},
                         {"branch_id", branch_id},
                         {"op", op},
                         {"status", r.status}});
}

Workflow::StepResult Workflow::Replay(const std::string& key, const std::string& kind) {
  replayed_.insert(key);
  const Step& s = progress_.at(key);
  // DTM's SDKs replay whatever is recorded under the branch id, so a changed workflow silently
  // takes a result that belongs to another step.
  if (!s.kind.empty() && s.kind != kind) {
    return {"", Misuse("diverged from its recorded progress at step " + key + ": recorded '" +
                       s.kind + "', this run '" + kind + "'")};
  }
  if (s.status == kSucceed) return {kSucceed, Status::Ok(), s.data};
  if (s.status == kFailed) return {kFailed, Status::Failure(s.data), s.data};
  return {"", Misuse("step " + key + " is recorded with status '" + s.status + "'")};
}

StatusOr<std::string> Workflow::Do(const std::function<StatusOr<std::string>(BranchBarrier&)>& fn) {
  auto run = [&]() -> StatusOr<std::string> {
    auto bb = BranchBarrier::From(trans_type_, gid_, current_branch_, current_op_);
    if (!bb.ok()) return Status::InvalidArgument(bb.status().message() + " (call NewBranch())");
    return fn(*bb);
  };
  // Inside a phase-2 callback a step is not recorded by itself: the callback's outcome is.
  if (current_op_ != kAction) return run();
  StepResult r = RecordedDo("do", [&] { return FromLocal<StepResult>(run()); });
  if (!r.error.ok()) return r.error;
  return r.data;
}

StatusOr<std::string> Workflow::DoXa(const DBConf& conf,
                                     const std::function<StatusOr<std::string>(SqlDb&)>& fn) {
  if (current_op_ != kAction) return Misuse("DoXa() inside a " + current_op_ + " callback");
  if (commit_added_ || rollback_added_) {
    return Misuse("DoXa() on branch " + current_branch_ +
                  ", which has its own commit / rollback callback (give it a branch of its own)");
  }
  if (Status st = internal::CheckXaDriver(conf); !st.ok()) return st;
  const std::string branch = current_branch_;
  const std::string business_key = branch + "-business";
  StepResult r = RecordedDo("xa", [&]() -> StepResult {
    if (progress_.count(business_key) != 0) {
      // Prepared by a run that died before recording the action: that prepared transaction
      // cannot be taken over, so the workflow rolls back (and phase 2 rolls it back).
      return {kFailed, Status::Failure("the XA step " + branch +
                                       " was prepared but not recorded: not resumable")};
    }
    StepResult sr;
    Status st = internal::RunXaLocal(conf, trans_type_, gid_, branch, [&](SqlDb& db) {
      auto res = fn(db);
      if (!res.ok()) return res.status();
      sr.data = std::move(*res);
      // Recorded before XA PREPARE: a resume that finds it knows a prepared transaction exists.
      return SaveStep(branch, "business", "xa", {kSucceed});
    });
    sr.error = st;
    if (st.ok()) {
      sr.status = kSucceed;
    } else if (st.IsFailure()) {
      sr.status = kFailed;
      sr.data = st.message();
    }
    return sr;
  });
  replayed_.insert(business_key);
  commit_added_ = rollback_added_ = true;
  // Go's phase 2 inserts its rollback barrier as trans_type "xa" while the local transaction
  // inserted "workflow": that barrier never blocks a late local transaction. Both use the
  // workflow's here.
  auto phase2 = [conf, type = trans_type_](BranchBarrier& bb) {
    return internal::RunXaPhase2(conf, type, bb.gid(), bb.branch_id(), bb.op());
  };
  on_commit_.push_back({branch, phase2});
  on_rollback_.push_back({branch, phase2});
  if (!r.error.ok()) return r.error;
  return r.data;
}

StatusOr<std::string> Workflow::RawHttp(const std::string& method, const std::string& url,
                                        const std::string& body,
                                        const std::map<std::string, std::string>& headers) {
  internal::HttpRequest req;
  req.method = method;
  req.url = internal::AppendQuery(url, {{"branch_id", current_branch_},
                                        {"gid", gid_},
                                        {"op", current_op_},
                                        {"trans_type", trans_type_}});
  bool has_type = false;
  for (const auto& src : {options_.branch_headers, headers}) {
    for (const auto& [k, v] : src) {
      req.headers.emplace_back(k, v);
      if (AsciiLower(k) == "content-type") has_type = true;
    }
  }
  if (!has_type && !body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  req.body = body;
  auto reply = internal::SendToBranch(*transport_, context_, options_.request_timeout,
                                      std::move(req), method + " " + url);
  if (!reply.ok()) return reply.status();
  // Go's workflow HTTPResp2DtmError: the status code alone decides.
  if (reply->status == 200) return std::move(reply->body);
  if (reply->status == 409) return Status::Failure(reply->body);
  if (reply->status == 425) return Status::Ongoing(reply->body);
  return Status::Internal(method + " " + url + ": HTTP " + std::to_string(reply->status) + ": " +
                          reply->body.substr(0, 512));
}

StatusOr<std::string> Workflow::CallHttp(const std::string& method, const std::string& url,
                                         const std::string& body,
                                         const std::map<std::string, std::string>& headers) {
  if (current_op_ != kAction) return RawHttp(method, url, body, headers);
  StepResult r = RecordedDo("http " + method + " " + WithoutQuery(url), [&] {
    return FromLocal<StepResult>(RawHttp(method, url, body, headers));
  });
  if (!r.error.ok()) return r.error;
  return r.data;
}

StatusOr<std::string> Workflow::CallGrpc(const std::string& url, const std::string& request) {
  auto call = [&]() -> StatusOr<std::string> {
    auto timeout = internal::CallTimeoutMs(context_, options_.request_timeout);
    if (!timeout.ok()) return timeout.status();
    GrpcMetadata md =
        internal::BranchCallMetadata(gid_, trans_type_, current_branch_, current_op_, server_url_,
                                     "", options_.branch_headers, internal::TraceHeaders(context_));
    return internal::GrpcCallBranch(url, md, request, *timeout);
  };
  if (current_op_ != kAction) return call();
  StepResult r = RecordedDo("grpc " + url, [&] { return FromLocal<StepResult>(call()); });
  if (!r.error.ok()) return r.error;
  return r.data;
}

Status Workflow::RunPhase2(const Status& outcome) {
  const bool rollback = !outcome.ok();
  current_op_ = rollback ? "rollback" : "commit";
  const std::vector<Phase2>& ops = rollback ? on_rollback_ : on_commit_;
  for (size_t i = ops.size(); i-- > 0;) {
    current_branch_ = ops[i].branch_id;
    StepResult r = RecordedDo("phase2", [&]() -> StepResult {
      auto bb = BranchBarrier::From(trans_type_, gid_, current_branch_, current_op_);
      if (!bb.ok()) return {"", bb.status()};
      Status st = ops[i].fn(*bb);
      if (st.IsFailure()) {
        return {"", Misuse("the " + current_op_ + " callback of branch " + current_branch_ +
                           " returned a Failure (" + st.message() +
                           "); phase 2 must succeed or be retried")};
      }
      if (!st.ok()) return {"", st};
      return {kSucceed};
    });
    if (!r.error.ok()) return r.error;
  }
  return Status::Ok();
}

Status Workflow::CheckAllReplayed() const {
  for (const auto& [key, step] : progress_) {
    if (replayed_.count(key) == 0) {
      return Status::Internal("workflow " + name_ + " (gid " + gid_ +
                              ") diverged from its recorded progress: this run did not take the "
                              "recorded step " +
                              key);
    }
  }
  return Status::Ok();
}

Status Workflow::Submit(const std::string& result, const Status& outcome) {
  const std::string status = outcome.ok() ? kSucceed : kFailed;
  const std::string reason = outcome.ok() ? "" : CutUtf8(outcome.message(), kMaxRollbackReason);
  const std::string result_b64 = Base64Encode(result);
  if (uses_grpc()) {
    dtmgimp::DtmRequest req = internal::BuildDtmRequest(*this);
    auto& extra = *req.mutable_reqextra();
    extra["status"] = status;
    extra["rollback_reason"] = reason;
    extra["result"] = result_b64;
    auto timeout = internal::CallTimeoutMs(context_, options_.request_timeout);
    if (!timeout.ok()) return timeout.status();
    return internal::GrpcCallDtm(server_url_, grpc_tls_, *timeout, "Submit", req,
                                 internal::TraceHeaders(context_));
  }
  nlohmann::ordered_json body{
      {"gid", gid_},
      {"trans_type", trans_type_},
      {"req_extra", {{"status", status}, {"rollback_reason", reason}, {"result", result_b64}}}};
  return CallDtmBody("submit", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

StatusOr<std::string> Workflow::Run(const WorkflowFunction& fn) {
  StatusOr<std::string> result = fn(*this, input_);
  if (!misuse_.ok()) return misuse_;
  Status outcome = result.ok() ? Status::Ok() : result.status();
  // A workflow that timed out ends failed even when its function completed from the records.
  if (outcome.ok() && timed_out_) outcome = Status::Failure(timeout_reason_);
  if (!outcome.ok() && !outcome.IsFailure()) return outcome;  // unfinished: resumed later
  if (Status st = RunPhase2(outcome); !st.ok()) return st;
  if (Status st = CheckAllReplayed(); !st.ok()) return st;
  if (Status st = Submit(outcome.ok() ? *result : "", outcome); !st.ok()) return st;
  if (!outcome.ok()) return outcome;
  return *result;
}

}  // namespace lynx::dtm
