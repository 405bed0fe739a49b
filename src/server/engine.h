// Engine: drives global transactions to their final state (dtm-protocol.md §4.5, §5, §6): one
// processing pass per call, for saga, msg, tcc and xa. A pass runs on its own strand; a saga's
// concurrent branches are coroutines on that strand, so a pass needs no locks and no thread.
// The engine is shared by all requests and the cron; its methods are thread-safe.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "server/branch_caller.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/store_runner.h"
#include "server/topics.h"
#include "server/trans.h"

namespace lynx::http {
class ClientPool;
}

namespace lynx::server {

enum class CronType { kBackoff, kReset, kKeep };

// This process as the owner of its cron leases and the instance of its attempts:
// "dtmd-<host>-<pid>".
const std::string& InstanceOwner();

class AttemptLog;
class BranchBatchWriter;

class SpanExporter;

struct EngineDeps {
  const ServerConfig* config = nullptr;
  Clock* clock = nullptr;
  StoreRunner* store = nullptr;
  BranchCaller* caller = nullptr;
  Topics* topics = nullptr;
  Metrics* metrics = nullptr;                // optional
  http::ClientPool* alert_client = nullptr;  // optional: for AlertWebHook
  // Set only in DTM's batched mode (UpdateBranchSync: 0 on a store that supports it).
  BranchBatchWriter* batch_writer = nullptr;
  AttemptLog* attempt_log = nullptr;  // optional: the attempt history
  SpanExporter* spans = nullptr;      // optional: OTLP export of the branch calls' spans
  boost::asio::any_io_executor executor;
};

class Engine {
 public:
  explicit Engine(EngineDeps deps);

  // DTM's Process: when `wait` is false the pass is spawned and Ok returns at once; otherwise the
  // pass runs to its end and the result follows §6.6 (submit that did not succeed -> FAILURE).
  boost::asio::awaitable<Status> Process(Trans t, std::vector<store::TransBranch> branches,
                                         bool wait);

  // Branch rows of a new saga/msg transaction (msg topics resolved to subscriber URLs).
  StatusOr<std::vector<store::TransBranch>> GenBranches(const Trans& t) const;
  // Fills interval/cron time/options/times of a new transaction and inserts it if absent.
  boost::asio::awaitable<Status> SaveNew(Trans& t, std::vector<store::TransBranch>& branches);
  // CAS of the global status, recording finish/rollback time, reason and result.
  boost::asio::awaitable<Status> ChangeStatus(Trans& t, const std::string& status,
                                              const std::string& rollback_reason = "",
                                              const std::string& result = "");

  // One cron pass: leases one transaction due within now + expire_in_ms and processes it
  // synchronously. Returns its gid, or "" when none was due.
  boost::asio::awaitable<std::string> CronOnce(int64_t expire_in_ms);

  int64_t NextCronInterval(const Trans& t, CronType type) const;
  bool IsTimeout(const Trans& t) const;

  // Completed passes per gid (test control: lets tests await a pass instead of sleeping).
  int64_t PassCount(const std::string& gid) const;

  const ServerConfig& config() const { return *deps_.config; }
  Clock& clock() const { return *deps_.clock; }
  StoreRunner& store() const { return *deps_.store; }
  Topics& topics() const { return *deps_.topics; }

 private:
  struct Run;
  // LockGlobalSaveBranches(gid, status, rows, upsert) through its completion form.
  boost::asio::awaitable<Status> UpsertBranches(std::string gid, std::string status,
                                                std::vector<store::TransBranch> rows);
  boost::asio::awaitable<void> WritePendingRows(Run& run);
  boost::asio::awaitable<Status> ProcessInner(std::shared_ptr<Run> run);
  boost::asio::awaitable<Status> ProcessSaga(std::shared_ptr<Run> run);
  boost::asio::awaitable<Status> ProcessMsg(std::shared_ptr<Run> run);
  boost::asio::awaitable<Status> ProcessTcc(std::shared_ptr<Run> run);
  boost::asio::awaitable<Status> ProcessXa(std::shared_ptr<Run> run);
  boost::asio::awaitable<Status> ProcessWorkflow(std::shared_ptr<Run> run);  // engine_workflow.cc
  boost::asio::awaitable<Status> MayQueryPrepared(Run& run);
  boost::asio::awaitable<Status> AbortIfPrepareTimedOut(Trans& t);
  // Calls branch i, records its new status, renews/backs off the cron time (§4.5). Never throws:
  // an exception becomes an Internal status.
  boost::asio::awaitable<Status> ExecBranch(std::shared_ptr<Run> run, size_t i);
  boost::asio::awaitable<Status> ExecBranchInner(std::shared_ptr<Run> run, size_t i);
  boost::asio::awaitable<std::string> CronOnceInner(int64_t expire_in_ms);
  boost::asio::awaitable<Status> CallUrl(const Run& run, const std::string& url,
                                         const std::string& branch_id, const std::string& op,
                                         const std::string& body);
  boost::asio::awaitable<void> TouchCronTime(Run& run, CronType type, int64_t delay_s);
  boost::asio::awaitable<void> Alert(const Run& run, const std::string& url, const Status& err,
                                     int64_t retry_count);
  bool NeedProcess(const Trans& t) const;
  void CountPass(const std::string& gid);

  EngineDeps deps_;
  // When a cron lease last found nothing due (dtmd_cron_lag_seconds), 0 = not yet.
  std::atomic<UnixMs> last_cron_idle_{0};
  mutable std::mutex passes_mu_;
  std::map<std::string, int64_t> passes_;
};

}  // namespace lynx::server
