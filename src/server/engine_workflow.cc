// Workflow processing (dtm-protocol.md §5.6). dtmd stores a workflow's progress (the steps its
// client records with registerBranch) and, while the workflow is unfinished, resumes it by
// calling its client back: HTTP query_prepared with branch_id 00, op = the workflow's name and
// the input as body (POST, or GET when empty), or gRPC workflow.Workflow/Execute with
// WorkflowData{Data}. The client replays the recorded steps, runs the rest and submits the final
// status. A pass runs under the cron's lease, extended to outlast the callback's timeout, so two
// resumes of one workflow never overlap (DTM's lease is RetryInterval whatever the callback
// takes); a failed callback backs off as branch retries do, a successful one that left the
// workflow unfinished (the function returned ONGOING or an error) is called again after the
// interval.
#include <spdlog/spdlog.h>

#include "common/log.h"
#include "proto/workflow.pb.h"
#include "server/custom_data.h"
#include "server/engine.h"
#include "server/engine_run.h"

namespace lynx::server {

namespace asio = boost::asio;

namespace {

// The gRPC resume call's request message (DTM's wfpb.WorkflowData).
std::string EncodeWorkflowData(const std::string& data) {
  workflow::WorkflowData msg;
  msg.set_data(data);
  return msg.SerializeAsString();
}

}  // namespace

asio::awaitable<Status> Engine::ProcessWorkflow(std::shared_ptr<Run> run) {
  Trans& t = run->t;
  if (t.g.status != store::kStatusPrepared && t.g.status != store::kStatusAborting) {
    co_return Status::Ok();
  }
  // DTM never times a workflow out. Here a workflow given timeout_to_fail (there is no default:
  // workflows are often long) and still unfinished then turns aborting: its steps can no longer
  // take actions, and the resumed client rolls back what it did and submits failed.
  if (t.g.status == store::kStatusPrepared && t.opts.timeout_to_fail > 0 && IsTimeout(t)) {
    LYNX_CO_RETURN_IF_ERROR(co_await ChangeStatus(
        t, store::kStatusAborting,
        "Timeout after " + std::to_string(t.opts.timeout_to_fail) + " seconds"));
  }
  auto custom = ParseWorkflowCustom(t.g.custom_data);
  if (!custom.ok()) {
    // Checked at prepareWorkflow; a stored value that still cannot be read fails this pass.
    co_await TouchCronTime(*run, CronType::kBackoff, 0);
    co_return Status::Internal("stored workflow custom_data unusable: " +
                               custom.status().message());
  }
  const std::string body = t.g.protocol == "grpc" ? EncodeWorkflowData(custom->data) : custom->data;
  // The cron leased the row for RetryInterval; a callback allowed to take longer would let
  // another pass (on this or another instance) resume the same workflow meanwhile.
  const int64_t timeout_s =
      t.opts.request_timeout > 0 ? t.opts.request_timeout : config().request_timeout;
  if (timeout_s >= config().retry_interval) {
    co_await TouchCronTime(*run, CronType::kKeep, timeout_s + config().retry_interval);
  }
  Status st = co_await CallUrl(*run, t.g.query_prepared, "00", custom->name, body);
  if (!st.ok()) {
    log::Log(log::Component::kEngine, spdlog::level::info, run->LogTx("00", custom->name),
             "resume callback {}: {}", t.g.query_prepared, st.message());
  }
  // The row is left alone when the callback's submit changed the status meanwhile.
  co_await TouchCronTime(*run, st.ok() ? CronType::kReset : CronType::kBackoff, 0);
  co_return Status::Ok();
}

}  // namespace lynx::server
