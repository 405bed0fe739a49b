#include "server/engine.h"

#include "common/log.h"
#include "server/attempt_log.h"
#include "server/branch_batch_writer.h"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>

#include <unistd.h>

#include "common/http_client.h"
#include "server/engine_run.h"
#include "server/tracing/call_span.h"
#include "server/tracing/span.h"
#include "server/trans_codec.h"

namespace lynx::server {

namespace asio = boost::asio;
using store::TransBranch;

Engine::Engine(EngineDeps deps) : deps_(std::move(deps)) {}

const std::string& InstanceOwner() {
  static const std::string owner = [] {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return "dtmd-" + std::string(host) + "-" + std::to_string(getpid());
  }();
  return owner;
}

int64_t Engine::NextCronInterval(const Trans& t, CronType type) const {
  // Saturating: a stored interval is read back from the store and may be anything.
  const int64_t current = std::clamp<int64_t>(t.g.next_cron_interval, 1, kMaxOptionSeconds);
  if (type == CronType::kBackoff) return std::min(current * 2, kMaxOptionSeconds);
  if (type == CronType::kKeep) return current;
  if (t.opts.retry_interval > 0) return std::min(t.opts.retry_interval, kMaxOptionSeconds);
  if (t.opts.timeout_to_fail > 0 && t.opts.timeout_to_fail < config().retry_interval) {
    return t.opts.timeout_to_fail;
  }
  return config().retry_interval;
}

bool Engine::IsTimeout(const Trans& t) const {
  int64_t timeout = t.opts.timeout_to_fail;
  if (timeout == 0 && t.g.trans_type != "saga") timeout = config().timeout_to_fail;
  if (timeout <= 0) return false;
  timeout = std::min(timeout, kMaxOptionSeconds);
  return clock().Now() - t.g.create_time >= timeout * 1000;
}

bool Engine::NeedProcess(const Trans& t) const {
  const auto& s = t.g.status;
  return s == store::kStatusSubmitted || s == store::kStatusAborting ||
         (s == store::kStatusPrepared && IsTimeout(t));
}

StatusOr<std::vector<TransBranch>> Engine::GenBranches(const Trans& t) const {
  std::vector<TransBranch> out;
  const auto& type = t.g.trans_type;
  if (type != "saga" && type != "msg") return out;
  char id[32];
  for (size_t i = 0; i < t.steps.size(); ++i) {
    snprintf(id, sizeof id, "%02zu", i + 1);
    const auto& step = t.steps[i];
    auto get = [&](const char* k) {
      auto it = step.find(k);
      return it == step.end() ? std::string() : it->second;
    };
    TransBranch b;
    b.gid = t.g.gid;
    b.bin_data = t.bin_payloads[i];
    b.status = store::kStatusPrepared;
    if (type == "saga") {
      for (const char* op : {kOpCompensate, kOpAction}) {
        b.branch_id = id;
        b.url = get(op);
        b.op = op;
        out.push_back(b);
      }
      continue;
    }
    std::string action = get(kOpAction);
    constexpr std::string_view kTopic = "topic://";
    std::vector<std::string> urls;
    if (action.rfind(kTopic, 0) == 0) {
      urls = deps_.topics->Urls(action.substr(kTopic.size()));
      if (urls.empty()) return Status::Internal("topic not found");
    } else {
      urls.push_back(action);
    }
    if (static_cast<int64_t>(out.size() + urls.size()) > config().limits.max_branches) {
      return Status::InvalidArgument("the topics' subscribers make more than " +
                                     std::to_string(config().limits.max_branches) +
                                     " branches (Limits.MaxBranches)");
    }
    for (size_t j = 0; j < urls.size(); ++j) {
      b.branch_id = id;
      if (urls.size() > 1) {
        char sub[32];
        snprintf(sub, sizeof sub, "-%02zu", j + 1);
        b.branch_id += sub;
      }
      b.url = urls[j];
      b.op = kOpAction;
      out.push_back(b);
    }
  }
  return out;
}

asio::awaitable<Status> Engine::SaveNew(Trans& t, std::vector<TransBranch>& branches) {
  UnixMs now = clock().Now();
  t.g.next_cron_interval = NextCronInterval(t, CronType::kReset);
  t.g.next_cron_time = now + t.g.next_cron_interval * 1000;
  t.g.options = EncodeOptions(t.opts);
  t.g.create_time = t.g.update_time = now;
  for (auto& b : branches) b.create_time = b.update_time = now;
  auto* g = &t.g;
  auto* bs = &branches;
  co_return co_await store().Complete<Status>(
      [g, bs](store::Store& s, auto done) { return s.MaySaveNewTransAsync(*g, *bs, done); },
      [g, bs](store::Store& s) { return s.MaySaveNewTrans(*g, *bs); });
}

asio::awaitable<Status> Engine::ChangeStatus(Trans& t, const std::string& status,
                                             const std::string& rollback_reason,
                                             const std::string& result) {
  store::StatusChange change;
  change.new_status = status;
  change.now = clock().Now();
  if (!rollback_reason.empty()) change.rollback_reason = rollback_reason;
  if (!result.empty()) change.result = result;
  std::string gid = t.g.gid;
  std::string old = t.g.status;
  // Branch results held back by this pass go with the change, in one store write.
  std::vector<TransBranch> rows = std::move(t.pending_rows);
  t.pending_rows.clear();
  Status st;
  if (rows.empty()) {
    st = co_await store().Complete<Status>(
        [&gid, &old, &change](store::Store& s, auto done) {
          return s.ChangeGlobalStatusAsync(gid, old, change, done);
        },
        [&gid, &old, &change](store::Store& s) { return s.ChangeGlobalStatus(gid, old, change); });
  } else {
    st = co_await store().Complete<Status>(
        [&](store::Store& s, auto done) {
          return s.SaveBranchesChangeStatusAsync(gid, old, rows, change, done);
        },
        [&](store::Store& s) { return s.SaveBranchesChangeStatus(gid, old, rows, change); });
  }
  if (!st.ok()) {
    if (st.IsNotFound()) {
      co_return Status::Internal("status of " + gid + " is no longer '" + old +
                                 "': changed by another actor");
    }
    co_return st;
  }
  log::Log(log::Component::kEngine, spdlog::level::debug, {.gid = gid}, "status {} -> {}", old,
           status);
  t.g.status = status;
  t.g.update_time = change.now;
  if (status == store::kStatusSucceed) t.g.finish_time = change.now;
  if (status == store::kStatusFailed) t.g.rollback_time = change.now;
  if (change.rollback_reason) t.g.rollback_reason = *change.rollback_reason;
  if (change.result) t.g.result = *change.result;
  co_return Status::Ok();
}

asio::awaitable<void> Engine::TouchCronTime(Run& run, CronType type, int64_t delay_s) {
  UnixMs now = clock().Now();
  run.last_touched = now;
  int64_t interval = NextCronInterval(run.t, type);
  UnixMs next = now + std::min(delay_s > 0 ? delay_s : interval, kMaxOptionSeconds) * 1000;
  std::string gid = run.t.g.gid;
  std::string status = run.t.g.status;
  // A status that changed meanwhile leaves the row alone: its new owner schedules it.
  co_await store().Run(
      [&](store::Store& s) { return s.TouchCronTime(gid, status, interval, next, now); });
  run.t.g.next_cron_interval = interval;
  run.t.g.next_cron_time = next;
}

asio::awaitable<Status> Engine::CallUrl(const Run& run, const std::string& url,
                                        const std::string& branch_id, const std::string& op,
                                        const std::string& body) {
  if (url.empty()) co_return Status::Ok();  // empty URL: success without a call
  BranchCall call;
  call.protocol = run.t.g.protocol;
  call.url = url;
  call.gid = run.t.g.gid;
  call.trans_type = run.t.g.trans_type;
  call.branch_id = branch_id;
  call.op = op;
  call.body = body;
  call.headers = &run.t.opts.branch_headers;
  int64_t timeout_s =
      run.t.opts.request_timeout > 0 ? run.t.opts.request_timeout : config().request_timeout;
  call.timeout_ms = std::min(timeout_s, kMaxOptionSeconds) * 1000;
  int64_t code = 0;
  call.reply_code = &code;
  std::optional<TraceContext> span;
  if (run.trace) {
    // Each call is a span of its own under the transaction's.
    span = ChildSpanOf(*run.trace);
    call.trace_headers.emplace_back("traceparent", span->Header());
    if (!span->tracestate.empty()) call.trace_headers.emplace_back("tracestate", span->tracestate);
  }
  const int64_t span_start = span ? SpanClockUs() : 0;
  const UnixMs start = clock().Now();
  const auto started = std::chrono::steady_clock::now();
  Status result;
  try {
    result = co_await deps_.caller->Call(call);
  } catch (const std::exception& e) {
    // A transport bug must cost this call only: it is a retryable error like a reset.
    result = Status::Internal("branch call to " + url + " failed: " + e.what());
  }
  if (deps_.attempt_log != nullptr) {
    store::BranchAttempt a;
    a.gid = run.t.g.gid;
    a.branch_id = branch_id;
    a.op = op;
    a.start_time = start;
    a.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    a.target = url;
    a.code = code;
    a.owner = InstanceOwner();
    // A successful call ends its branch op; a workflow's resume may succeed again and again.
    a.final = result.ok() && run.t.g.trans_type != "workflow";
    deps_.attempt_log->Record(std::move(a), result);
  }
  if (span && deps_.spans != nullptr) {
    ExportCallSpan(*deps_.spans, *run.trace, *span, span_start, call, code, result);
  }
  co_return result;
}

asio::awaitable<Status> Engine::ExecBranch(std::shared_ptr<Run> run, size_t i) {
  std::string what;
  try {
    co_return co_await ExecBranchInner(run, i);
  } catch (const std::exception& e) {
    what = e.what();
  }
  // Callers count on a result from every branch (saga mailbox, msg join): never throw.
  log::Log(log::Component::kEngine, spdlog::level::err,
           run->LogTx(run->branches[i].branch_id, run->branches[i].op), "unexpected exception: {}",
           what);
  co_return Status::Internal("unexpected exception in branch " + run->branches[i].branch_id + ": " +
                             what);
}

asio::awaitable<Status> Engine::ExecBranchInner(std::shared_ptr<Run> run, size_t i) {
  TransBranch& b = run->branches[i];
  Status call = co_await CallUrl(*run, b.url, b.branch_id, b.op, b.bin_data);
  std::string new_status;
  Status err;
  if (call.ok()) {
    new_status = store::kStatusSucceed;
  } else if (run->t.g.trans_type == "saga" && b.op == kOpAction && call.IsFailure()) {
    new_status = store::kStatusFailed;
    run->branch_errors[i] = "url:" + b.url + " return failed: " + call.message();
  } else if (call.IsOngoing()) {
    err = call;
  } else {
    // Not final here (retried), but a FAILURE keeps its kind so that a wait_result caller
    // gets 409 as DTM answers (its error wraps ErrFailure).
    err = Status(call.IsFailure() ? StatusCode::kFailure : StatusCode::kInternal,
                 "your http/grpc result should be specified as "
                 "in:\nhttp://d.dtm.pub/practice/arch.html#proto\n"
                 "unkown result will be retried: " +
                     call.message());
  }
  if (!new_status.empty()) {
    UnixMs now = clock().Now();
    b.status = new_status;
    b.finish_time = b.update_time = now;
    TransBranch row = b;
    row.gid = run->t.g.gid;
    std::string gid = run->t.g.gid;
    std::string global_status = run->t.g.status;
    // DTM keeps branches of concurrent sagas and of transactions with a timeout synchronous: a
    // timeout decision reads them back.
    const bool batched = deps_.batch_writer != nullptr && !run->t.opts.concurrent &&
                         run->t.opts.timeout_to_fail <= 0 && deps_.batch_writer->Enqueue(row);
    // The success that ends the pass is written with the status change that follows it: one
    // store write instead of two, where the store can do both at once.
    const bool held = !batched && run->finishing_branch == i && !run->pass_over &&
                      new_status == store::kStatusSucceed &&
                      store().store().CombinesBranchesAndStatus();
    if (held) run->t.pending_rows.push_back(row);
    Status saved = Status::Ok();
    if (!batched && !held) {
      std::vector<TransBranch> rows{row};  // named: GCC 12 miscompiles temporaries in co_await
      saved = co_await UpsertBranches(gid, global_status, std::move(rows));
    }
    if (!saved.ok()) {
      log::Log(log::Component::kEngine, spdlog::level::warn, run->LogTx(b.branch_id, b.op),
               "status not saved: {}", saved.message());
      co_return saved.IsNotFound()
          ? Status::Internal("status of " + gid + " changed while branch " + b.branch_id + " ran")
          : saved;
    }
  }
  if (deps_.metrics) {
    deps_.metrics->ObserveBranch(run->t.g.trans_type, b.branch_id, b.op,
                                 new_status == store::kStatusSucceed);
  }
  const auto& g = run->t.g;
  if (err.ok() && (clock().Now() - run->last_touched >= 1500 ||
                   (g.next_cron_interval > config().retry_interval &&
                    g.next_cron_interval > run->t.opts.retry_interval))) {
    co_await TouchCronTime(*run, CronType::kReset, 0);
  } else if (err.IsOngoing()) {
    co_await TouchCronTime(*run, CronType::kKeep, 0);
  } else if (!err.ok()) {
    log::Log(log::Component::kEngine, spdlog::level::info, run->LogTx(b.branch_id, b.op), "{}: {}",
             b.url, err.message());
    co_await TouchCronTime(*run, CronType::kBackoff, 0);
    int64_t base = NextCronInterval(run->t, CronType::kReset);
    int64_t v = base > 0 ? run->t.g.next_cron_interval / base : 0;
    int64_t retry_count = v > 0 ? static_cast<int64_t>(std::log2(static_cast<double>(v))) : 0;
    if (retry_count >= config().alert_retry_limit && !config().alert_web_hook.empty()) {
      co_await Alert(*run, b.url, err, retry_count);
    }
  }
  co_return err;
}

asio::awaitable<void> Engine::Alert(const Run& run, const std::string& url, const Status& err,
                                    int64_t retry_count) {
  if (deps_.alert_client == nullptr) co_return;
  boost::json::object body{{"gid", run.t.g.gid},
                           {"status", run.t.g.status},
                           {"branch", url},
                           {"error", err.message()},
                           {"retry_count", retry_count}};
  http::ClientRequest req;
  req.method = "POST";
  req.url = config().alert_web_hook;
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = boost::json::serialize(body);
  req.timeout_ms = config().request_timeout * 1000;
  auto res = co_await deps_.alert_client->Send(std::move(req));
  if (!res.ok()) {
    log::Log(log::Component::kEngine, spdlog::level::err, "alerting webhook error: {}",
             res.status().message());
  } else if (res->status != 200) {
    log::Log(log::Component::kEngine, spdlog::level::err, "alerting webhook answered {}: {}",
             res->status, res->body);
  }
}

asio::awaitable<Status> Engine::UpsertBranches(std::string gid, std::string status,
                                               std::vector<TransBranch> rows) {
  co_return co_await store().Complete<Status>(
      [&](store::Store& s, auto done) {
        return s.LockGlobalSaveBranchesAsync(gid, status, rows, false, done);
      },
      [&](store::Store& s) { return s.LockGlobalSaveBranches(gid, status, rows, false); });
}

asio::awaitable<void> Engine::WritePendingRows(Run& run) {
  std::vector<TransBranch> rows = std::move(run.t.pending_rows);
  run.t.pending_rows.clear();
  Status saved = co_await UpsertBranches(run.t.g.gid, run.t.g.status, std::move(rows));
  if (!saved.ok()) {
    log::Log(log::Component::kEngine, spdlog::level::warn, run.LogTx(), "status not saved: {}",
             saved.message());
  }
}

asio::awaitable<Status> Engine::ProcessInner(std::shared_ptr<Run> run) {
  run->last_touched = clock().Now();
  struct InFlight {  // the count follows the pass, however it ends (even destroyed at shutdown)
    std::shared_ptr<std::atomic<int64_t>> n;
    explicit InFlight(std::shared_ptr<std::atomic<int64_t>> count) : n(std::move(count)) {
      if (n) ++*n;
    }
    ~InFlight() {
      if (n) --*n;
    }
  } in_flight(deps_.metrics ? deps_.metrics->InFlightCounter() : nullptr);
  run->branch_errors.assign(run->branches.size(), "");
  run->trace = TraceFromExtData(run->t.g.ext_data);
  const std::string& type = run->t.g.trans_type;
  Status st;
  bool threw = false;
  try {
    if (type == "saga") {
      st = co_await ProcessSaga(run);
    } else if (type == "msg") {
      st = co_await ProcessMsg(run);
    } else if (type == "tcc") {
      st = co_await ProcessTcc(run);
    } else if (type == "xa") {
      st = co_await ProcessXa(run);
    } else if (type == "workflow") {
      st = co_await ProcessWorkflow(run);
    } else {
      st = Status::Internal("unknown trans type: " + type);
    }
  } catch (const std::exception& e) {
    // One transaction's bad data or a bug on its path fails its pass only: it backs off below.
    st = Status::Internal(std::string("unexpected exception: ") + e.what());
    threw = true;
  }
  if (threw) {
    try {
      co_await TouchCronTime(*run, CronType::kBackoff, 0);
    } catch (const std::exception& e) {
      log::Log(log::Component::kEngine, spdlog::level::err, run->LogTx(), "back-off not saved: {}",
               e.what());
    }
  }
  run->pass_over = true;
  // A result held back for a status change that did not come (the pass ended first): written
  // on its own, as it would have been without holding it.
  if (!run->t.pending_rows.empty()) co_await WritePendingRows(*run);
  if (!st.ok() && !st.IsOngoing()) {
    log::Log(log::Component::kEngine, spdlog::level::warn, run->LogTx(), "processing error: {}",
             st.message());
  }
  CountPass(run->t.g.gid);
  co_return st;
}

asio::awaitable<Status> Engine::Process(Trans t, std::vector<TransBranch> branches, bool wait) {
  auto run = std::make_shared<Run>();
  run->t = std::move(t);
  run->branches = std::move(branches);
  auto strand = asio::make_strand(deps_.executor);
  auto observe = [this](const Run& r, bool ok) {
    if (deps_.metrics && r.t.g.create_time) {
      deps_.metrics->ObserveTransaction(r.t.g.trans_type, ok,
                                        (clock().Now() - r.t.g.create_time) / 1000.0);
    }
  };
  if (!wait) {
    observe(*run, true);  // before the spawn: the pass owns `run` from then on
    asio::co_spawn(strand, ProcessInner(run), asio::detached);
    co_return Status::Ok();
  }
  const bool submitting = run->t.g.status == store::kStatusSubmitted;
  Status st = co_await asio::co_spawn(strand, ProcessInner(run), asio::use_awaitable);
  if (st.ok() && submitting && run->t.g.status != store::kStatusSucceed) {
    if (!run->t.g.rollback_reason.empty()) {
      st = Status::Failure(run->t.g.rollback_reason);
    } else if (run->t.g.status == store::kStatusSubmitted) {
      // Not decided (a branch timed out or answered an error and will be retried): DTM answers
      // FAILURE here, which tells the caller "rolled back" about a transaction that may still
      // succeed. ONGOING (425) is the truth.
      st = Status::Ongoing(
          "wait result not return success: the transaction is still submitted (a branch has no "
          "final result yet and will be retried)");
    } else {
      st = Status::Failure("wait result not return success:");
    }
  }
  observe(*run, st.ok());
  co_return st;
}

asio::awaitable<std::string> Engine::CronOnce(int64_t expire_in_ms) {
  std::string what;
  try {
    co_return co_await CronOnceInner(expire_in_ms);
  } catch (const std::exception& e) {
    what = e.what();
  }
  // The pass never lets an exception reach the cron loop; the leased row is retried after its
  // lease like any failed pass.
  log::Log(log::Component::kCron, spdlog::level::err, "cron pass: unexpected exception: {}", what);
  co_return std::string();
}

asio::awaitable<std::string> Engine::CronOnceInner(int64_t expire_in_ms) {
  UnixMs now = clock().Now();
  int64_t lease = config().retry_interval;
  const std::string& owner = InstanceOwner();
  auto leased = co_await store().Run(
      [&](store::Store& s) { return s.LockOneGlobalTrans(now, expire_in_ms, lease, owner); });
  if (!leased.ok()) {
    log::Log(log::Component::kCron, spdlog::level::err, "cron lease failed: {}",
             leased.status().message());
    co_return std::string();
  }
  if (!leased->has_value()) {
    last_cron_idle_ = now;
    if (deps_.metrics) deps_.metrics->SetCronLag(0);
    co_return std::string();
  }
  if (deps_.metrics) {
    UnixMs idle = last_cron_idle_.load();
    if (idle == 0 && last_cron_idle_.compare_exchange_strong(idle, now))
      idle = now;  // a backlog at start
    deps_.metrics->SetCronLag(idle > now ? 0 : (now - idle) / 1000.0);
  }
  Trans t;
  t.g = std::move(**leased);
  if (Status st = DecodeOptions(t.g.options, &t.opts); !st.ok()) {
    log::Log(log::Component::kCron, spdlog::level::err, {.gid = t.g.gid},
             "unreadable options '{}': {}", t.g.options, st.message());
  }
  std::string gid = t.g.gid;
  auto branches = co_await store().Run([&gid](store::Store& s) { return s.FindBranches(gid); });
  if (!branches.ok()) {
    log::Log(log::Component::kCron, spdlog::level::err, {.gid = gid}, "loading branches failed: {}",
             branches.status().message());
    co_return gid;
  }
  Status st = co_await Process(std::move(t), std::move(*branches), true);
  if (!st.ok() && !st.IsFailure() && !st.IsOngoing()) {
    log::Log(log::Component::kCron, spdlog::level::info, {.gid = gid}, "cron pass ended with: {}",
             st.message());
  }
  co_return gid;
}

void Engine::CountPass(const std::string& gid) {
  if (!config().enable_test_control) return;
  std::lock_guard lock(passes_mu_);
  ++passes_[gid];
}

int64_t Engine::PassCount(const std::string& gid) const {
  std::lock_guard lock(passes_mu_);
  auto it = passes_.find(gid);
  return it == passes_.end() ? 0 : it->second;
}

}  // namespace lynx::server
