// WorkflowEngine (Go's workflowFactory and its HTTP / gRPC callback servers): the registry of
// named workflow functions, Execute — prepareWorkflow, then the run — and the resume callbacks
// dtmd calls.
#include <lynx/dtm/branch_server.h>
#include <lynx/dtm/grpc_branch_server.h>
#include <lynx/dtm/workflow.h>

#include <mutex>

#include "client/transactions/workflow_progress.h"
#include "client/transports/call_util.h"
#include "client/transports/grpc_request.h"
#include "client/transports/grpc_transport.h"
#include "proto/workflow.pb.h"

namespace lynx::dtm {

struct WorkflowEngine::Impl {
  bool grpc = false;
  std::string server;
  std::string callback;
  GrpcTlsOptions tls;

  struct Entry {
    WorkflowFunction fn;
    WorkflowOptions options;
  };
  std::mutex mu;
  std::map<std::string, Entry> workflows;
  WorkflowOptions defaults;
  std::vector<std::string> pass_through;
  std::set<std::string> running;  // gids being executed by this engine
};

WorkflowEngine WorkflowEngine::Http(std::string server_url, std::string callback_url) {
  auto impl = std::make_shared<Impl>();
  impl->server = std::move(server_url);
  impl->callback = std::move(callback_url);
  return WorkflowEngine(std::move(impl));
}

WorkflowEngine WorkflowEngine::Grpc(std::string grpc_server, std::string callback_host,
                                    GrpcTlsOptions tls) {
  auto impl = std::make_shared<Impl>();
  impl->grpc = true;
  impl->server = std::move(grpc_server);
  impl->callback = std::move(callback_host) + "/workflow.Workflow/Execute";
  impl->tls = std::move(tls);
  return WorkflowEngine(std::move(impl));
}

void WorkflowEngine::SetCallback(const std::string& callback) {
  std::lock_guard lock(impl_->mu);
  impl_->callback = impl_->grpc ? callback + "/workflow.Workflow/Execute" : callback;
}

void WorkflowEngine::SetDefaultOptions(WorkflowOptions options) {
  std::lock_guard lock(impl_->mu);
  impl_->defaults = std::move(options);
}

void WorkflowEngine::SetPassThroughHeaders(std::vector<std::string> names) {
  std::lock_guard lock(impl_->mu);
  impl_->pass_through = std::move(names);
}

Status WorkflowEngine::Register(const std::string& name, WorkflowFunction fn) {
  WorkflowOptions defaults;
  {
    std::lock_guard lock(impl_->mu);
    defaults = impl_->defaults;
  }
  return Register(name, std::move(fn), std::move(defaults));
}

Status WorkflowEngine::Register(const std::string& name, WorkflowFunction fn,
                                WorkflowOptions options) {
  if (name.empty()) return Status::InvalidArgument("a workflow needs a name");
  if (!fn) return Status::InvalidArgument("workflow '" + name + "' has no function");
  std::lock_guard lock(impl_->mu);
  if (!impl_->workflows.emplace(name, Impl::Entry{std::move(fn), std::move(options)}).second) {
    return Status::InvalidArgument("a workflow named '" + name + "' is already registered");
  }
  return Status::Ok();
}

StatusOr<std::string> WorkflowEngine::Execute(const std::string& name, const std::string& gid,
                                              const std::string& input, const Context& ctx) {
  if (gid.empty()) return Status::InvalidArgument("workflow '" + name + "' needs a gid");
  Impl::Entry entry;
  std::vector<std::string> pass_through;
  std::string callback;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->workflows.find(name);
    if (it == impl_->workflows.end()) {
      return Status::InvalidArgument("workflow '" + name + "' is not registered");
    }
    entry = it->second;
    pass_through = impl_->pass_through;
    callback = impl_->callback;
    // dtmd never resumes a workflow twice at once, but the program's own Execute and dtmd's
    // callback may meet here: the second one waits for the next resume.
    if (!impl_->running.insert(gid).second) {
      return Status::Ongoing("workflow " + gid + " is already running in this process");
    }
  }
  struct Release {
    Impl& impl;
    const std::string& gid;
    ~Release() {
      std::lock_guard lock(impl.mu);
      impl.running.erase(gid);
    }
  } release{*impl_, gid};
  Workflow wf(impl_->server, gid, name, input, impl_->grpc, impl_->tls, std::move(callback),
              entry.options);
  wf.SetContext(ctx);
  wf.options().branch_headers =
      internal::MergeBranchHeaders(pass_through, ctx.Headers(), entry.options.trans.branch_headers);
  return wf.Start(entry.fn);
}

StatusOr<std::string> Workflow::Start(const WorkflowFunction& fn) {
  StatusOr<internal::WorkflowProgress> progress = Status::Internal("");
  if (uses_grpc()) {
    auto timeout = internal::CallTimeoutMs(context_, options_.request_timeout);
    if (!timeout.ok()) return timeout.status();
    auto reply = internal::GrpcPrepareWorkflow(server_url_, grpc_tls_, *timeout,
                                               internal::BuildDtmRequest(*this),
                                               internal::TraceHeaders(context_));
    if (!reply.ok()) return reply.status();
    progress = internal::FromProgressReply(*reply);
  } else {
    auto body =
        // The progress is data: a recorded step's result may well contain "FAILURE".
        internal::CallDtmServer(*transport_, context_, server_url_, options_.request_timeout,
                                "POST", "prepareWorkflow", ToJson(), internal::DtmReply::kData);
    if (!body.ok()) return body.status();
    progress = internal::ParseProgressJson(*body);
  }
  if (!progress.ok()) return progress.status();
  const std::string& status = progress->status;
  if (status == "succeed") return std::move(progress->result);
  if (status == "failed") return Status::Failure(progress->rollback_reason);
  if (status == "aborting") {
    timed_out_ = true;
    timeout_reason_ = progress->rollback_reason.empty() ? "workflow " + gid_ + " timed out"
                                                        : progress->rollback_reason;
  } else if (status != "prepared") {
    return Status::Internal("workflow " + gid_ + " is " + status + " at DTM");
  }
  for (auto& p : progress->steps) {
    internal::StepRecord rec = internal::DecodeStepRecord(p.data);
    progress_[p.branch_id + "-" + p.op] = {p.status, std::move(rec.kind), std::move(rec.data)};
  }
  return Run(fn);
}

void WorkflowEngine::ServeHttp(HttpBranchServer& server, const std::string& path) const {
  auto handler = [engine = *this](const BranchRequest& req) mutable {
    auto get = [&req](const char* key) {
      auto it = req.query.find(key);
      return it == req.query.end() ? std::string() : it->second;
    };
    return engine.Execute(get("op"), get("gid"), req.body, req.context).status();
  };
  server.Handle("POST", path, handler);
  server.Handle("GET", path, handler);
}

void WorkflowEngine::ServeGrpc(GrpcBranchServer& server) const {
  server.Handle("/workflow.Workflow/Execute",
                [engine = *this](const GrpcBranchRequest& req) mutable -> StatusOr<std::string> {
                  workflow::WorkflowData data;
                  if (Status st = req.ParseBody(&data); !st.ok()) return st;
                  auto get = [&req](const char* key) {
                    auto it = req.metadata.find(key);
                    return it == req.metadata.end() ? std::string() : it->second;
                  };
                  auto res =
                      engine.Execute(get("dtm-op"), get("dtm-gid"), data.data(), req.context);
                  if (!res.ok()) return res.status();
                  return std::string();  // google.protobuf.Empty
                });
}

}  // namespace lynx::dtm
