// Api: every operation of the DTM server, written once over plain structs (dtm-protocol.md §2).
// The HTTP front-end (and later gRPC/JSON-RPC) only decodes, calls one of these, and encodes.
// Statuses follow DTM: kOk -> 200, kFailure -> 409, kOngoing -> 425, kInvalidArgument -> 400
// (DTM answers 500 there), anything else -> 500. Thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <optional>
#include <string>
#include <vector>

#include "server/engine.h"

namespace lynx::server {

struct QueryResult {
  std::optional<store::TransGlobal> global;
  std::vector<store::TransBranch> branches;
};

struct AllRequest {
  std::string gid;
  std::string position;
  int64_t limit = 100;
  store::ScanCondition cond;
  bool overdue = false;  // only unfinished transactions already due (cond.overdue_before = now)
};

// The console's counters: transactions per status and overdue ones, each counted up to `cap`
// (a count equal to cap means "cap or more": counting reads rows, so it stops there).
struct Summary {
  std::vector<std::pair<std::string, int64_t>> counts;  // status -> count, DTM's five statuses
  int64_t overdue = 0;
  int64_t cap = 0;
};

struct AllResult {
  std::optional<std::vector<store::TransGlobal>> globals;  // nullopt -> JSON null (DTM's quirk)
  std::string next_position;
};

struct KvPage {
  std::vector<store::KV> kv;
  std::string next_position;
};

class UrlPolicy;

class Api {
 public:
  // `url_policy` (may be null: every URL passes) is applied to every branch URL a request adds.
  explicit Api(Engine& engine, const UrlPolicy* url_policy = nullptr)
      : engine_(engine), url_policy_(url_policy) {}

  std::string NewGid() const;
  boost::asio::awaitable<Status> Prepare(Trans t);
  boost::asio::awaitable<Status> Submit(Trans t);
  boost::asio::awaitable<Status> Abort(Trans t);
  boost::asio::awaitable<Status> ForceStop(const std::string& gid);
  boost::asio::awaitable<Status> ResetNextCronTime(const std::string& gid);
  boost::asio::awaitable<Status> RegisterBranch(BranchRegistration r);
  // prepareWorkflow (dtm-protocol.md §2.8): a new gid is stored as a prepared workflow with no
  // branches; an existing one answers with its stored record and recorded steps.
  boost::asio::awaitable<StatusOr<QueryResult>> PrepareWorkflow(Trans t);
  boost::asio::awaitable<StatusOr<QueryResult>> Query(const std::string& gid);
  boost::asio::awaitable<StatusOr<AllResult>> All(AllRequest req);
  boost::asio::awaitable<StatusOr<Summary>> Summarize(int64_t cap);
  // The attempt history of gid, oldest first (empty when there is none or it is off).
  boost::asio::awaitable<StatusOr<std::vector<store::BranchAttempt>>> Attempts(
      const std::string& gid);
  // timeout_s < 0 means DTM's default 3 * TimeoutToFail.
  boost::asio::awaitable<StatusOr<store::ResetCronResult>> ResetCronTime(int64_t timeout_s,
                                                                         int64_t limit);

  boost::asio::awaitable<Status> Subscribe(const std::string& topic, const std::string& url,
                                           const std::string& remark);
  boost::asio::awaitable<Status> Unsubscribe(const std::string& topic, const std::string& url);
  boost::asio::awaitable<Status> DeleteTopic(const std::string& topic);
  boost::asio::awaitable<StatusOr<KvPage>> ScanKV(const std::string& cat, std::string position,
                                                  int64_t limit);
  boost::asio::awaitable<StatusOr<std::vector<store::KV>>> QueryKV(const std::string& cat,
                                                                   const std::string& key);
  // Re-reads the topic map from the store.
  boost::asio::awaitable<Status> ReloadTopics();

 private:
  boost::asio::awaitable<StatusOr<Trans>> LoadTrans(const std::string& gid);
  // A workflow's submit: its final status from req_extra (succeed / failed, with rollback_reason
  // and result); repeating the same final status succeeds, another one is a FAILURE.
  boost::asio::awaitable<Status> SubmitWorkflow(Trans t);
  // A workflow step (status and op given); repeating the same outcome succeeds, a different
  // outcome for the same step is a FAILURE.
  boost::asio::awaitable<Status> RegisterWorkflowStep(BranchRegistration r);

  Engine& engine_;
  const UrlPolicy* url_policy_;
};

}  // namespace lynx::server
