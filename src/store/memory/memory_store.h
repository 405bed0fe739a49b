// MemoryStore: the Store contract held in process memory under one mutex. Used by the engines'
// unit tests and by `Store.Driver: memory`; nothing survives a restart. Thread-safe; never blocks
// on I/O, so the server calls it inline on its network threads.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/store.h"

namespace lynx::store {

class MemoryStore : public Store {
 public:
  MemoryStore() = default;
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  bool IsBlocking() const override { return false; }
  Status Ping() override { return Status::Ok(); }
  Status PopulateSchema() override { return Status::Ok(); }

  StatusOr<std::optional<TransGlobal>> FindGlobal(const std::string& gid) override;
  Status ScanGlobals(std::string* position, int64_t limit, const ScanCondition& cond,
                     std::vector<TransGlobal>* out) override;
  StatusOr<std::vector<TransBranch>> FindBranches(const std::string& gid) override;

  Status MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) override;
  Status LockGlobalSaveBranches(const std::string& gid, const std::string& expected_status,
                                const std::vector<TransBranch>& rows, bool append) override;
  Status ChangeGlobalStatus(const std::string& gid, const std::string& old_status,
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

  Status AddAttempts(const std::vector<BranchAttempt>& rows, int64_t keep) override;
  StatusOr<std::vector<BranchAttempt>> FindAttempts(const std::string& gid) override;

  StatusOr<int64_t> PurgeFinished(UnixMs before, int64_t limit) override;

 private:
  // (next_cron_time, id): the same order as the SQL backends' cron index, so both lease the same
  // row first (earliest due, oldest on ties).
  using CronKey = std::pair<UnixMs, int64_t>;

  TransGlobal* FindLocked(const std::string& gid);
  // Applies `mutate` to g and keeps the cron index in step with its status and next_cron_time.
  template <class F>
  void Mutate(TransGlobal& g, F mutate);

  std::mutex mu_;
  // Globals by id: the id order is the insertion order that ScanGlobals pages over.
  std::map<int64_t, TransGlobal> globals_;
  std::unordered_map<std::string, int64_t> gid_to_id_;
  // Branches of each gid in insertion order.
  std::unordered_map<std::string, std::vector<TransBranch>> branches_;
  // Unfinished transactions only, so a finished one is never leased or reset.
  std::set<CronKey> cron_;
  std::map<int64_t, KV> kv_;
  std::map<std::pair<std::string, std::string>, int64_t> kv_key_to_id_;
  int64_t next_global_id_ = 1;
  int64_t next_branch_id_ = 1;
  int64_t next_kv_id_ = 1;
  // Attempts of each gid, oldest first.
  std::unordered_map<std::string, std::vector<BranchAttempt>> attempts_;
  int64_t next_attempt_id_ = 1;
};

}  // namespace lynx::store
