#include "server/api.h"

#include <spdlog/spdlog.h>

#include "common/log.h"
#include "common/shortuuid.h"
#include "server/engine_run.h"
#include "server/security/url_policy.h"
#include "server/topics.h"
#include "server/trans_codec.h"
#include "server/validate.h"

namespace lynx::server {

namespace asio = boost::asio;
using store::TransBranch;
using store::TransGlobal;

std::string Api::NewGid() const { return NewShortUuid(); }

asio::awaitable<StatusOr<Trans>> Api::LoadTrans(const std::string& gid) {
  auto found = co_await engine_.store().Run([&gid](store::Store& s) { return s.FindGlobal(gid); });
  if (!found.ok()) co_return found.status();
  if (!found->has_value()) co_return Status::Internal("no TransGlobal with gid: " + gid + " found");
  Trans t;
  t.g = std::move(**found);
  if (Status st = DecodeOptions(t.g.options, &t.opts); !st.ok()) {
    log::Log(log::Component::kApi, spdlog::level::warn, {.gid = gid}, "unreadable options: {}",
             st.message());
  }
  co_return t;
}

asio::awaitable<Status> Api::Prepare(Trans t) {
  LYNX_CO_RETURN_IF_ERROR(CheckTrans(t, engine_.config().limits));
  if (url_policy_) LYNX_CO_RETURN_IF_ERROR(CheckTransUrls(t, *url_policy_));
  t.g.status = store::kStatusPrepared;
  auto branches = engine_.GenBranches(t);
  if (!branches.ok()) co_return branches.status();
  Status st = co_await engine_.SaveNew(t, *branches);
  if (st.IsUniqueConflict()) {
    auto dbt = co_await LoadTrans(t.g.gid);
    if (!dbt.ok()) co_return dbt.status();
    if (dbt->g.status != store::kStatusPrepared) {
      co_return Status::Failure("current status '" + dbt->g.status + "', cannot prepare.");
    }
    co_return Status::Ok();
  }
  co_return st;
}

asio::awaitable<Status> Api::Submit(Trans t) {
  if (t.g.trans_type == "workflow") co_return co_await SubmitWorkflow(std::move(t));
  LYNX_CO_RETURN_IF_ERROR(CheckTrans(t, engine_.config().limits));
  if (url_policy_) LYNX_CO_RETURN_IF_ERROR(CheckTransUrls(t, *url_policy_));
  t.g.status = store::kStatusSubmitted;
  auto generated = engine_.GenBranches(t);
  if (!generated.ok()) co_return generated.status();
  std::vector<TransBranch> branches = std::move(*generated);
  Status st = co_await engine_.SaveNew(t, branches);
  if (st.IsUniqueConflict()) {
    auto dbt = co_await LoadTrans(t.g.gid);
    if (!dbt.ok()) co_return dbt.status();
    if (dbt->g.status == store::kStatusPrepared) {
      LYNX_CO_RETURN_IF_ERROR(co_await engine_.ChangeStatus(*dbt, store::kStatusSubmitted));
    } else if (dbt->g.status != store::kStatusSubmitted) {
      co_return Status::Failure("current status '" + dbt->g.status + "', cannot sumbmit.");
    }
    // Second phase (or a duplicate submit): process the stored branches with this request's
    // options, as DTM does; the stored row keeps its id and create time.
    const std::string& gid = t.g.gid;
    auto stored =
        co_await engine_.store().Run([&gid](store::Store& s) { return s.FindBranches(gid); });
    if (!stored.ok()) co_return stored.status();
    branches = std::move(*stored);
    t.g.id = dbt->g.id;
    if (t.g.trans_type.empty()) t.g.trans_type = dbt->g.trans_type;
    if (t.g.query_prepared.empty()) t.g.query_prepared = dbt->g.query_prepared;
    if (t.g.custom_data.empty()) t.g.custom_data = dbt->g.custom_data;
    t.g.next_cron_interval = dbt->g.next_cron_interval;
  } else if (!st.ok()) {
    co_return st;
  }
  const bool wait = t.opts.wait_result;
  co_return co_await engine_.Process(std::move(t), std::move(branches), wait);
}

asio::awaitable<Status> Api::Abort(Trans req) {
  auto dbt = co_await LoadTrans(req.g.gid);
  if (!dbt.ok()) co_return dbt.status();
  Trans& t = *dbt;
  if (t.g.trans_type == "msg" && t.g.status == store::kStatusPrepared) {
    co_return co_await engine_.ChangeStatus(t, store::kStatusFailed);
  }
  const std::string& rt = req.g.trans_type;
  if ((rt != "xa" && rt != "tcc") ||
      (t.g.status != store::kStatusPrepared && t.g.status != store::kStatusAborting)) {
    co_return Status::Failure("trans type: '" + t.g.trans_type + "' current status '" + t.g.status +
                              "', cannot abort.");
  }
  LYNX_CO_RETURN_IF_ERROR(
      co_await engine_.ChangeStatus(t, store::kStatusAborting, req.rollback_reason_request));
  const std::string gid = t.g.gid;
  auto branches =
      co_await engine_.store().Run([&gid](store::Store& s) { return s.FindBranches(gid); });
  if (!branches.ok()) co_return branches.status();
  const bool wait = t.opts.wait_result;
  co_return co_await engine_.Process(std::move(t), std::move(*branches), wait);
}

asio::awaitable<Status> Api::ForceStop(const std::string& gid) {
  auto dbt = co_await LoadTrans(gid);
  if (!dbt.ok()) co_return dbt.status();
  if (dbt->g.IsFinished()) {
    co_return Status::Failure("global transaction force stop error. status: " + dbt->g.status +
                              ". error:");
  }
  co_return co_await engine_.ChangeStatus(*dbt, store::kStatusFailed);
}

asio::awaitable<Status> Api::ResetNextCronTime(const std::string& gid) {
  UnixMs now = engine_.clock().Now();
  Status st = co_await engine_.store().Run(
      [&gid, now](store::Store& s) { return s.ResetTransGlobalCronTime(gid, now); });
  if (st.IsNotFound()) co_return Status::Internal("no TransGlobal with gid: " + gid + " found");
  co_return st;
}

asio::awaitable<Status> Api::RegisterBranch(BranchRegistration r) {
  if (url_policy_ != nullptr) {
    if (Status refused = CheckRegistrationUrls(r, *url_policy_); !refused.ok()) {
      // DTM refuses a registration to a transaction that is not prepared with a FAILURE, before
      // any look at the URLs; so does dtmd (the read is paid on this refusal path only).
      const std::string& gid = r.gid;
      auto global =
          co_await engine_.store().Run([&gid](store::Store& s) { return s.FindGlobal(gid); });
      if (global.ok() && (!global->has_value() || (*global)->status != store::kStatusPrepared)) {
        co_return Status::Failure("no trans with gid: " + gid + " status: prepared found");
      }
      co_return refused;
    }
  }
  if (r.trans_type == "workflow") co_return co_await RegisterWorkflowStep(std::move(r));
  std::vector<TransBranch> rows;
  TransBranch base;
  base.gid = r.gid;
  base.branch_id = r.branch_id;
  base.status = store::kStatusPrepared;
  base.create_time = base.update_time = engine_.clock().Now();
  if (r.trans_type == "tcc") {
    base.bin_data = r.data["data"];
    for (const char* op : {kOpCancel, kOpConfirm}) {
      TransBranch b = base;
      b.op = op;
      b.url = r.data[op];
      rows.push_back(std::move(b));
    }
  } else if (r.trans_type == "xa") {
    for (const char* op : {kOpRollback, kOpCommit}) {
      TransBranch b = base;
      b.op = op;
      b.url = r.data["url"];
      rows.push_back(std::move(b));
    }
  } else {
    co_return Status::InvalidArgument("unknow trans type: " + r.trans_type);
  }
  const std::string& gid = r.gid;
  // Limits.MaxBranches holds for registered branches too (concurrent registrations may pass it
  // by their number at most).
  auto existing =
      co_await engine_.store().Run([&gid](store::Store& s) { return s.FindBranches(gid); });
  if (!existing.ok()) co_return existing.status();
  const int64_t max_branches = engine_.config().limits.max_branches;
  if (static_cast<int64_t>(existing->size() + rows.size()) > max_branches) {
    co_return Status::InvalidArgument(
        "transaction " + gid + " has " + std::to_string(existing->size()) +
        " branches; more would exceed Limits.MaxBranches (" + std::to_string(max_branches) + ")");
  }
  const std::string prepared = store::kStatusPrepared;
  Status st = co_await engine_.store().Complete<Status>(
      [&](store::Store& s, auto done) {
        return s.LockGlobalSaveBranchesAsync(gid, prepared, rows, true, done);
      },
      [&](store::Store& s) { return s.LockGlobalSaveBranches(gid, prepared, rows, true); });
  if (st.IsNotFound()) {
    co_return Status::Failure("no trans with gid: " + gid + " status: prepared found");
  }
  if (st.IsUniqueConflict()) {
    co_return Status::Internal("branch " + r.branch_id + " of " + gid + " is already registered");
  }
  co_return st;
}

asio::awaitable<StatusOr<QueryResult>> Api::Query(const std::string& gid) {
  if (gid.empty()) co_return Status::Internal("no gid specified");
  auto global = co_await engine_.store().Run([&gid](store::Store& s) { return s.FindGlobal(gid); });
  if (!global.ok()) co_return global.status();
  auto branches =
      co_await engine_.store().Run([&gid](store::Store& s) { return s.FindBranches(gid); });
  if (!branches.ok()) co_return branches.status();
  co_return QueryResult{std::move(*global), std::move(*branches)};
}

asio::awaitable<StatusOr<std::vector<store::BranchAttempt>>> Api::Attempts(const std::string& gid) {
  if (gid.empty()) co_return Status::InvalidArgument("gid is required");
  co_return co_await engine_.store().Run([&gid](store::Store& s) { return s.FindAttempts(gid); });
}

asio::awaitable<StatusOr<AllResult>> Api::All(AllRequest req) {
  AllResult out;
  if (!req.gid.empty()) {
    auto global =
        co_await engine_.store().Run([&req](store::Store& s) { return s.FindGlobal(req.gid); });
    if (!global.ok()) co_return global.status();
    if (global->has_value()) out.globals = std::vector<TransGlobal>{std::move(**global)};
    out.next_position = req.position;
    co_return out;
  }
  if (req.overdue) req.cond.overdue_before = engine_.clock().Now();
  std::vector<TransGlobal> rows;
  std::string position = req.position;
  Status st = co_await engine_.store().Run(
      [&](store::Store& s) { return s.ScanGlobals(&position, req.limit, req.cond, &rows); });
  if (!st.ok()) co_return st;
  out.globals = std::move(rows);
  out.next_position = position;
  co_return out;
}

asio::awaitable<StatusOr<Summary>> Api::Summarize(int64_t cap) {
  Summary out;
  out.cap = cap;
  const UnixMs now = engine_.clock().Now();
  // One bounded scan per count, through the same ScanGlobals as /all: every store answers it,
  // and none needs a COUNT that could read a whole table.
  auto count = [&](store::ScanCondition cond) -> asio::awaitable<StatusOr<int64_t>> {
    std::vector<TransGlobal> rows;
    std::string position;
    Status st = co_await engine_.store().Run(
        [&](store::Store& s) { return s.ScanGlobals(&position, cap, cond, &rows); });
    if (!st.ok()) co_return st;
    co_return static_cast<int64_t>(rows.size());
  };
  for (const char* status : {store::kStatusPrepared, store::kStatusSubmitted,
                             store::kStatusAborting, store::kStatusSucceed, store::kStatusFailed}) {
    store::ScanCondition cond;
    cond.status = status;
    auto n = co_await count(cond);
    if (!n.ok()) co_return n.status();
    out.counts.emplace_back(status, *n);
  }
  store::ScanCondition overdue;
  overdue.overdue_before = now;
  auto n = co_await count(overdue);
  if (!n.ok()) co_return n.status();
  out.overdue = *n;
  co_return out;
}

asio::awaitable<StatusOr<store::ResetCronResult>> Api::ResetCronTime(int64_t timeout_s,
                                                                     int64_t limit) {
  if (timeout_s < 0) timeout_s = 3 * engine_.config().timeout_to_fail;
  UnixMs now = engine_.clock().Now();
  co_return co_await engine_.store().Run(
      [&](store::Store& s) { return s.ResetCronTime(now, timeout_s * 1000, limit); });
}

asio::awaitable<Status> Api::ReloadTopics() {
  Topics& topics = engine_.topics();
  co_return co_await engine_.store().Run([&topics](store::Store& s) { return topics.Reload(s); });
}

asio::awaitable<Status> Api::Subscribe(const std::string& topic, const std::string& url,
                                       const std::string& remark) {
  if (topic.empty()) co_return Status::Internal("empty topic");
  if (url.empty()) co_return Status::Internal("empty url");
  LYNX_CO_RETURN_IF_ERROR(CheckSubscription(topic, url, remark));
  if (url_policy_) {
    auto target = url_policy_->CheckUrl("url", url, true);
    if (!target.ok()) co_return target.status();
  }
  UnixMs now = engine_.clock().Now();
  const int64_t max_subscribers = engine_.config().limits.max_topic_subscribers;
  Status st = co_await engine_.store().Run([&](store::Store& s) -> Status {
    auto kvs = s.FindKV("topics", topic);
    if (!kvs.ok()) return kvs.status();
    if (kvs->empty()) {
      return s.CreateKV("topics", topic, EncodeSubscribers({{url, remark}}), now);
    }
    store::KV kv = (*kvs)[0];
    auto subs = DecodeSubscribers(kv.v);
    if (!subs.ok()) return subs.status();
    for (const auto& sub : *subs) {
      if (sub.url == url) return Status::Internal("this url exists");
    }
    if (static_cast<int64_t>(subs->size()) >= max_subscribers) {
      return Status::InvalidArgument("topic " + topic + " has " + std::to_string(subs->size()) +
                                     " subscribers already (Limits.MaxTopicSubscribers)");
    }
    subs->push_back({url, remark});
    kv.v = EncodeSubscribers(*subs);
    return s.UpdateKV(kv, now);
  });
  if (st.IsNotFound() || st.IsUniqueConflict()) {
    co_return Status::Internal("storage: concurrent update of topic " + topic + ", try again");
  }
  if (st.ok()) st = co_await ReloadTopics();
  co_return st;
}

asio::awaitable<Status> Api::Unsubscribe(const std::string& topic, const std::string& url) {
  if (topic.empty()) co_return Status::Internal("empty topic");
  if (url.empty()) co_return Status::Internal("empty url");
  UnixMs now = engine_.clock().Now();
  Status st = co_await engine_.store().Run([&](store::Store& s) -> Status {
    auto kvs = s.FindKV("topics", topic);
    if (!kvs.ok()) return kvs.status();
    if (kvs->empty()) return Status::Internal("no such a topic");
    store::KV kv = (*kvs)[0];
    auto subs = DecodeSubscribers(kv.v);
    if (!subs.ok()) return subs.status();
    if (subs->empty()) return Status::Internal("this topic is empty");
    size_t before = subs->size();
    std::erase_if(*subs, [&url](const Subscriber& sub) { return sub.url == url; });
    if (subs->size() == before) return Status::Internal("no such an url ");
    kv.v = EncodeSubscribers(*subs);
    Status up = s.UpdateKV(kv, now);
    if (up.IsNotFound()) {
      return Status::Internal("storage: concurrent update of topic " + topic + ", try again");
    }
    return up;
  });
  if (st.ok()) st = co_await ReloadTopics();
  co_return st;
}

asio::awaitable<Status> Api::DeleteTopic(const std::string& topic) {
  Status st = co_await engine_.store().Run(
      [&topic](store::Store& s) { return s.DeleteKV("topics", topic); });
  if (st.IsNotFound()) co_return Status::Internal("storage: NotFound");
  if (st.ok()) st = co_await ReloadTopics();
  co_return st;
}

asio::awaitable<StatusOr<KvPage>> Api::ScanKV(const std::string& cat, std::string position,
                                              int64_t limit) {
  KvPage page;
  Status st = co_await engine_.store().Run(
      [&](store::Store& s) { return s.ScanKV(cat, &position, limit, &page.kv); });
  if (!st.ok()) co_return st;
  page.next_position = position;
  co_return page;
}

asio::awaitable<StatusOr<std::vector<store::KV>>> Api::QueryKV(const std::string& cat,
                                                               const std::string& key) {
  co_return co_await engine_.store().Run([&](store::Store& s) { return s.FindKV(cat, key); });
}

asio::awaitable<StatusOr<QueryResult>> Api::PrepareWorkflow(Trans t) {
  if (t.g.trans_type != "workflow") {
    co_return Status::InvalidArgument("prepareWorkflow needs trans_type workflow");
  }
  LYNX_CO_RETURN_IF_ERROR(CheckTrans(t, engine_.config().limits));
  if (url_policy_) LYNX_CO_RETURN_IF_ERROR(CheckTransUrls(t, *url_policy_));
  t.g.status = store::kStatusPrepared;
  std::vector<TransBranch> none;
  Status st = co_await engine_.SaveNew(t, none);
  if (st.IsUniqueConflict()) co_return co_await Query(t.g.gid);
  if (!st.ok()) co_return st;
  QueryResult out;
  out.global = std::move(t.g);
  co_return out;
}

asio::awaitable<Status> Api::SubmitWorkflow(Trans t) {
  LYNX_CO_RETURN_IF_ERROR(CheckWorkflowOutcome(t.req_extra));
  const std::string status = t.req_extra["status"];
  auto dbt = co_await LoadTrans(t.g.gid);
  if (!dbt.ok()) co_return Status::Failure("no workflow with gid " + t.g.gid);
  if (dbt->g.trans_type != "workflow") {
    co_return Status::Failure("transaction " + t.g.gid + " is a " + dbt->g.trans_type +
                              ", not a workflow");
  }
  if (dbt->g.status == status) co_return Status::Ok();  // a repeated submit
  // A workflow that timed out (aborting) can only end failed, once its client rolled back.
  const bool may_end = dbt->g.status == store::kStatusPrepared ||
                       (dbt->g.status == store::kStatusAborting && status == store::kStatusFailed);
  if (!may_end) {
    co_return Status::Failure("workflow " + t.g.gid + " is already " + dbt->g.status +
                              ", cannot submit it as " + status);
  }
  co_return co_await engine_.ChangeStatus(*dbt, status, t.req_extra["rollback_reason"],
                                          t.req_extra["result"]);
}

asio::awaitable<Status> Api::RegisterWorkflowStep(BranchRegistration r) {
  TransBranch b;
  b.gid = r.gid;
  b.branch_id = r.branch_id;
  b.op = r.data["op"];
  b.status = r.data["status"];
  b.bin_data = r.data["data"];
  b.create_time = b.update_time = engine_.clock().Now();
  if (b.status == store::kStatusSucceed) b.finish_time = b.create_time;
  if (b.status == store::kStatusFailed) b.rollback_time = b.create_time;
  const std::string& gid = r.gid;
  auto existing =
      co_await engine_.store().Run([&gid](store::Store& s) { return s.FindBranches(gid); });
  if (!existing.ok()) co_return existing.status();
  for (const auto& e : *existing) {
    if (e.branch_id != b.branch_id || e.op != b.op) continue;
    // DTM answers a repeated registration with a raw unique-key error; the same outcome is the
    // same step recorded twice (a retried request), another outcome a replay that diverged.
    if (e.status == b.status && e.bin_data == b.bin_data) co_return Status::Ok();
    co_return Status::Failure("step " + b.branch_id + " " + b.op + " of workflow " + gid +
                              " is already recorded as " + e.status);
  }
  const int64_t max_branches = engine_.config().limits.max_branches;
  if (static_cast<int64_t>(existing->size()) + 1 > max_branches) {
    co_return Status::InvalidArgument(
        "workflow " + gid + " has " + std::to_string(existing->size()) +
        " steps; more would exceed Limits.MaxBranches (" + std::to_string(max_branches) + ")");
  }
  const bool is_rollback = b.op == "rollback";
  std::vector<TransBranch> rows{std::move(b)};
  const std::string prepared = store::kStatusPrepared;
  Status st = co_await engine_.store().Complete<Status>(
      [&](store::Store& s, auto done) {
        return s.LockGlobalSaveBranchesAsync(gid, prepared, rows, true, done);
      },
      [&](store::Store& s) { return s.LockGlobalSaveBranches(gid, prepared, rows, true); });
  if (st.IsNotFound() && is_rollback) {
    // A workflow that timed out is aborting: its client still records the rollbacks it runs, but
    // no new action, commit or business step.
    st = co_await engine_.store().Run([&](store::Store& s) {
      return s.LockGlobalSaveBranches(gid, store::kStatusAborting, rows, true);
    });
  }
  if (st.IsNotFound()) {
    co_return Status::Failure("no trans with gid: " + gid + " status: prepared found");
  }
  if (st.IsUniqueConflict()) {
    co_return Status::Failure("step " + r.branch_id + " " + r.data["op"] + " of workflow " + gid +
                              " was recorded concurrently");
  }
  co_return st;
}

}  // namespace lynx::server
