// RedisStore: the Store on a Redis server (Store.Driver: redis), in DTM's key layout
// (dtm-protocol.md §7.3) so that a Redis can move from DTM to dtmd and back, plus a few index
// keys of our own for what the Store contract needs beyond DTM. Every mutating call is one Lua
// script (redis_scripts.cc): atomic and one round trip, so several dtmd instances may share a
// Redis. Thread-safe; calls block on the network (a small pool of synchronous hiredis
// connections). Needs Redis 6.0 or later (SET ... KEEPTTL).
//
// Keys (P = RedisOptions::prefix, default "{a}"; the hash tag puts every key in one cluster slot):
//   DTM's layout
//     P_g_<gid>          string  the global as DTM's JSON (TransGlobalStore's json tags)
//     P_b_<gid>          list    the branches' JSON (TransBranchStore), in insertion order
//     P_s_<gid>          string  the global's status: the compare-and-set token
//     P_u                zset    unfinished gids scored by next_cron_time in unix seconds; we
//                                add the milliseconds as a fraction (DTM writes whole seconds)
//     P_kv_<cat>_<k>     string  a KV entry's JSON (KVStore), no TTL
//     g/b/s live DataExpire seconds (renewed by each write while unfinished), then
//     FinishedDataExpire seconds from the moment the transaction finishes.
//   dtmd's additions (DTM neither reads nor matches them: its SCANs use P_g_* and P_kv_*)
//     P_id               string  counter (INCR) for the ids of globals, branches and KV entries
//                                (DTM leaves ids 0 in Redis)
//     P_all              zset    every gid scored by its id: ScanGlobals, newest first
//     P_f                zset    finished gids scored by their finish time (unix ms): the
//                                retention purge (PurgeFinished)
//     P_kvc_<cat>        zset    the keys of category cat scored by id: ScanKV, FindKV(cat, "")
//     P_layout           string  the layout ("1": DTM's, "compact"), written once the first
//                                dtmd indexed the KV entries DTM wrote (see below)
//   Index entries whose keys expired by TTL are skipped and removed by whoever meets them.
//   The compact layout (RedisLayout::kCompact) keeps the indexes, KV entries and attempts as
//   above but a transaction in one hash (no P_s, no P_b):
//     P_g_<gid>          hash    j = the global's JSON as created; status, update_time,
//                                finish_time, rollback_time, rollback_reason, result,
//                                next_cron_time, next_cron_interval, owner = their later values
//                                (the status is the compare-and-set token);
//                                r<len>:<branch_id><op> = a row's JSON as created,
//                                s<len>:<branch_id><op> = its later status and times
//                                (redis_codec.h); rows are listed in id order
//
// Moving from DTM: a global DTM wrote (id 0, absent from P_all) is numbered and listed the first
// time a script rewrites it (every unfinished one is, when the cron leases it); KV entries DTM
// wrote are indexed by PopulateSchema, which Open runs the first time it sees a prefix.
// Transactions DTM had finished before the move stay out of ScanGlobals (/all); they can still be
// read by gid and expire by their TTL. Moving back: DTM reads everything we write (it ignores our
// extra keys and the JSON's ids; fractional P_u scores compare as numbers in its scripts).
//
// Deviations from DTM: ResetTransGlobalCronTime also moves the gid's P_u score (DTM rewrites only
// the JSON); the append of branches rejects any (branch_id, op) already listed (DTM checks only
// the first new row); branch rows are upserted by (branch_id, op), not by list position; the
// lease also writes next_cron_time / owner / update_time into the JSON (DTM moves only the
// score); scripts edit the stored JSON rather than overwrite it with an in-memory copy; every
// write renews all three TTLs together; PopulateSchema (dtmd -r) never flushes (DTM's -r runs
// FLUSHALL); Host lists (Redis Cluster) are not supported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.h"

struct redisReply;  // hiredis

namespace lynx::store {

namespace redis {
class AsyncConn;
class RedisPool;
class RedisConn;
enum class ScriptId : size_t;
struct ScriptSource;
}  // namespace redis

// How a transaction is kept (Store.RedisLayout). kDtm: DTM's keys and JSON, so DTM and dtmd can
// take over each other's data. kCompact: for new deployments that run dtmd only: the global and
// the branches are hashes (see the layout comment above); every write sets fields instead of
// decoding and re-encoding JSON in Lua. The indexes, the KV entries and the attempt history are
// the same in both. A prefix keeps the layout it was first opened with (P_layout says which):
// opening it with the other one fails.
enum class RedisLayout { kDtm, kCompact };

struct RedisOptions {
  std::string host = "127.0.0.1";
  int64_t port = 6379;
  std::string password;  // AUTH when set
  std::string user;      // ACL user (Redis 6+), used only with a password
  std::string prefix = "{a}";
  std::string client_name = "dtmd";        // CLIENT SETNAME of every connection (no spaces)
  int64_t data_expire_s = 604800;          // TTL of a transaction's keys; 0 = no TTL
  int64_t finished_data_expire_s = 86400;  // TTL once finished; 0 = keep until purged
  // Connections opened on demand up to this many (Store.MaxOpenConns, capped).
  int64_t max_conns = 16;
  int64_t connect_timeout_ms = 5000;
  int64_t io_timeout_ms = 10000;  // per command: a stalled server fails the call (kUnavailable)
  RedisLayout layout = RedisLayout::kDtm;

  static constexpr int64_t kMaxConnections = 64;
};

class RedisStore : public Store {
 public:
  // Connects once (a wrong address fails here: kUnavailable naming host:port; refused
  // credentials: kInvalidArgument) and loads the scripts.
  static StatusOr<std::unique_ptr<RedisStore>> Open(const RedisOptions& options);
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  bool IsBlocking() const override { return true; }
  Status Ping() override;
  // Loads the scripts (SCRIPT LOAD) and indexes KV entries DTM wrote. Never deletes anything:
  // DTM's -r flushes the whole Redis, which would take other applications' data with it.
  Status PopulateSchema() override;

  StatusOr<std::optional<TransGlobal>> FindGlobal(const std::string& gid) override;
  Status ScanGlobals(std::string* position, int64_t limit, const ScanCondition& cond,
                     std::vector<TransGlobal>* out) override;
  StatusOr<std::vector<TransBranch>> FindBranches(const std::string& gid) override;

  Status MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) override;
  Status LockGlobalSaveBranches(const std::string& gid, const std::string& expected_status,
                                const std::vector<TransBranch>& rows, bool append) override;
  Status ChangeGlobalStatus(const std::string& gid, const std::string& old_status,
                            const StatusChange& change) override;
  bool CombinesBranchesAndStatus() const override { return true; }
  Status SaveBranchesChangeStatus(const std::string& gid, const std::string& old_status,
                                  const std::vector<TransBranch>& rows,
                                  const StatusChange& change) override;
  Status TouchCronTime(const std::string& gid, const std::string& expected_status,
                       int64_t interval_s, UnixMs next_cron_time, UnixMs now) override;
  StatusOr<std::optional<TransGlobal>> LockOneGlobalTrans(UnixMs now, int64_t expire_in_ms,
                                                          int64_t lease_s,
                                                          const std::string& owner) override;
  StatusOr<ResetCronResult> ResetCronTime(UnixMs now, int64_t after_ms, int64_t limit) override;
  Status ResetTransGlobalCronTime(const std::string& gid, UnixMs now) override;

  Status ScanKV(const std::string& cat, std::string* position, int64_t limit,
                std::vector<KV>* out) override;
  StatusOr<std::vector<KV>> FindKV(const std::string& cat, const std::string& key) override;
  Status CreateKV(const std::string& cat, const std::string& k, const std::string& v,
                  UnixMs now) override;
  Status UpdateKV(KV& kv, UnixMs now) override;
  Status DeleteKV(const std::string& cat, const std::string& k) override;

  // The calls on every transaction's path run over one pipelined connection on dtmd's io
  // threads once AttachIo was called (redis_async.h); the rest use the blocking pool.
  void AttachIo(boost::asio::io_context& io) override;
  bool MaySaveNewTransAsync(TransGlobal& global, std::vector<TransBranch>& branches,
                            Completion<Status> done) override;
  bool LockGlobalSaveBranchesAsync(const std::string& gid, const std::string& expected_status,
                                   const std::vector<TransBranch>& rows, bool append,
                                   Completion<Status> done) override;
  bool ChangeGlobalStatusAsync(const std::string& gid, const std::string& old_status,
                               const StatusChange& change, Completion<Status> done) override;
  bool SaveBranchesChangeStatusAsync(const std::string& gid, const std::string& old_status,
                                     const std::vector<TransBranch>& rows,
                                     const StatusChange& change, Completion<Status> done) override;

  Status AddAttempts(const std::vector<BranchAttempt>& rows, int64_t keep) override;
  StatusOr<std::vector<BranchAttempt>> FindAttempts(const std::string& gid) override;
  StatusOr<int64_t> PurgeFinished(UnixMs before, int64_t limit) override;

  // Deletes every key under the prefix (tests, which use a prefix each). SCAN based: not atomic.
  Status DropAll();

 private:
  struct Result;  // a script's reply, see redis_store.cc
  RedisStore() = default;

  const redis::ScriptSource& Script(redis::ScriptId id) const;
  // kInvalidArgument unless `marker` (P_layout's value) names this store's layout.
  Status CheckLayout(const std::optional<std::string>& marker) const;
  StatusOr<std::optional<std::string>> LayoutMarker();
  // Runs a script: EVALSHA, then EVAL when Redis lost it (NOSCRIPT).
  StatusOr<Result> Run(redis::ScriptId id, const std::string& key, std::vector<std::string> args);
  // The same over the pipelined connection (async_ must be set).
  void RunAsync(redis::ScriptId id, const std::string& key, std::vector<std::string> args,
                Completion<StatusOr<Result>> done);
  std::vector<std::string> ScriptArgv(redis::ScriptId id, const std::string& key,
                                      std::vector<std::string> args) const;
  static StatusOr<Result> ToResult(redis::ScriptId id, const redisReply& reply);
  // Arguments and reply reading of the three calls that have a completion form.
  StatusOr<std::vector<std::string>> SaveNewArgs(const TransGlobal& global,
                                                 const std::vector<TransBranch>& branches) const;
  static Status SaveNewDone(const StatusOr<Result>& r, TransGlobal& global,
                            std::vector<TransBranch>& branches);
  void AppendRowArgs(const std::string& gid, const std::vector<TransBranch>& rows,
                     std::vector<std::string>* args) const;
  std::vector<std::string> CombinedArgs(const std::string& gid, const std::string& old_status,
                                        const std::vector<TransBranch>& rows,
                                        const StatusChange& change) const;
  StatusOr<std::vector<std::string>> SaveBranchesArgs(const std::string& gid,
                                                      const std::string& expected_status,
                                                      const std::vector<TransBranch>& rows,
                                                      bool append) const;
  static Status SaveBranchesDone(const StatusOr<Result>& r, const std::string& gid,
                                 const std::string& expected_status);
  static std::vector<std::string> ChangeStatusArgs(const std::string& gid,
                                                   const std::string& old_status,
                                                   const StatusChange& change);
  static Status ChangeStatusDone(const StatusOr<Result>& r, const std::string& gid,
                                 const std::string& old_status);
  // SCRIPT LOAD of every script; Open keeps the SHA1s (later loads yield the same ones).
  Status LoadScripts(bool keep_shas);
  Status AdoptDtmKV();
  Status RefuseDtmTransactions();
  std::vector<std::string> ReadGlobalCommand(const std::string& gid) const;
  StatusOr<std::optional<TransGlobal>> DecodeGlobalReply(const redisReply& r) const;
  Status FetchGlobals(redis::RedisConn& c, const std::vector<std::pair<std::string, int64_t>>& page,
                      std::vector<std::optional<TransGlobal>>* out) const;
  // Removes index entries of globals / KV entries found missing by a read (best effort).
  void CleanGlobals(const std::vector<std::string>& gids);
  void CleanKV(const std::string& cat, const std::vector<std::string>& keys);
  std::string Key(const std::string& kind, const std::string& name) const;

  RedisOptions options_;
  std::unique_ptr<redis::RedisPool> pool_;
  std::unique_ptr<redis::AsyncConn> async_;  // set by AttachIo
  std::vector<std::string> shas_;            // by ScriptId; written by Open only
  bool compact_ = false;                     // options_.layout == kCompact
};

}  // namespace lynx::store
