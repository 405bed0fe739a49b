#include "store/memory/memory_store.h"

#include "store/store_util.h"

#include <charconv>
#include <limits>
#include <set>

namespace lynx::store {

namespace {

// Cursors are the decimal id of the last returned row, like the SQL backends, so that a cursor
// handed out by one backend means the same thing to the other.
// (branch_id, op) is the unique key of a branch within its gid.
bool SameKey(const TransBranch& a, const TransBranch& b) {
  return a.branch_id == b.branch_id && a.op == b.op;
}

// True when two rows of `rows` share a key: a SQL backend would reject the whole write.
bool HasDuplicateKey(const std::vector<TransBranch>& rows) {
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto& r : rows) {
    if (!seen.emplace(r.branch_id, r.op).second) return true;
  }
  return false;
}

}  // namespace

TransGlobal* MemoryStore::FindLocked(const std::string& gid) {
  auto it = gid_to_id_.find(gid);
  return it == gid_to_id_.end() ? nullptr : &globals_.at(it->second);
}

template <class F>
void MemoryStore::Mutate(TransGlobal& g, F mutate) {
  cron_.erase({g.next_cron_time, g.id});
  mutate(g);
  if (!g.IsFinished()) cron_.insert({g.next_cron_time, g.id});
}

StatusOr<std::optional<TransGlobal>> MemoryStore::FindGlobal(const std::string& gid) {
  std::lock_guard lock(mu_);
  const TransGlobal* g = FindLocked(gid);
  if (g == nullptr) return std::optional<TransGlobal>();
  return std::optional<TransGlobal>(*g);
}

Status MemoryStore::ScanGlobals(std::string* position, int64_t limit, const ScanCondition& cond,
                                std::vector<TransGlobal>* out) {
  int64_t before = 0;
  if (Status st = StartPage(*position, limit, std::numeric_limits<int64_t>::max(), &before);
      !st.ok())
    return st;
  out->clear();
  std::lock_guard lock(mu_);
  // Newest first: walk the ids below the cursor downwards.
  for (auto it = std::make_reverse_iterator(globals_.lower_bound(before));
       it != globals_.rend() && static_cast<int64_t>(out->size()) < limit; ++it) {
    if (MatchesScan(it->second, cond)) out->push_back(it->second);
  }
  *position = NextCursor(out->size(), limit, out->empty() ? 0 : out->back().id);
  return Status::Ok();
}

StatusOr<std::vector<TransBranch>> MemoryStore::FindBranches(const std::string& gid) {
  std::lock_guard lock(mu_);
  auto it = branches_.find(gid);
  return it == branches_.end() ? std::vector<TransBranch>{} : it->second;
}

Status MemoryStore::MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) {
  if (HasDuplicateKey(branches)) {
    return Status::UniqueConflict("duplicate branch in new trans " + global.gid);
  }
  std::lock_guard lock(mu_);
  if (gid_to_id_.count(global.gid)) return Status::UniqueConflict("gid exists: " + global.gid);
  global.id = next_global_id_++;
  for (auto& b : branches) b.id = next_branch_id_++;
  globals_.emplace(global.id, global);
  gid_to_id_.emplace(global.gid, global.id);
  if (!branches.empty()) {
    std::vector<TransBranch>& stored = branches_[global.gid];
    stored = branches;
    for (auto& b : stored) b.gid = global.gid;
  }
  if (!global.IsFinished()) cron_.insert({global.next_cron_time, global.id});
  return Status::Ok();
}

Status MemoryStore::LockGlobalSaveBranches(const std::string& gid,
                                           const std::string& expected_status,
                                           const std::vector<TransBranch>& rows, bool append) {
  // Appending two rows with one key conflicts; upserting them is fine (the later one wins).
  if (append && HasDuplicateKey(rows)) {
    return Status::UniqueConflict("duplicate branch for " + gid);
  }
  std::lock_guard lock(mu_);
  const TransGlobal* g = FindLocked(gid);
  if (g == nullptr || g->status != expected_status) return NoTrans(gid, expected_status);
  std::vector<TransBranch>& list = branches_[gid];
  auto find = [&list](const TransBranch& r) {
    for (auto& b : list) {
      if (SameKey(b, r)) return &b;
    }
    return static_cast<TransBranch*>(nullptr);
  };
  if (append) {
    // Check everything before writing anything: the append is all or nothing.
    for (const auto& r : rows) {
      if (find(r) != nullptr) {
        return Status::UniqueConflict("branch exists: " + gid + " " + r.branch_id + " " + r.op);
      }
    }
  }
  for (const auto& r : rows) {
    if (TransBranch* existing = find(r); existing != nullptr) {
      existing->status = r.status;
      existing->finish_time = r.finish_time;
      existing->rollback_time = r.rollback_time;
      existing->update_time = r.update_time;
      continue;
    }
    TransBranch& b = list.emplace_back(r);
    b.id = next_branch_id_++;
    b.gid = gid;
  }
  return Status::Ok();
}

Status MemoryStore::ChangeGlobalStatus(const std::string& gid, const std::string& old_status,
                                       const StatusChange& change) {
  std::lock_guard lock(mu_);
  TransGlobal* g = FindLocked(gid);
  if (g == nullptr || g->status != old_status) return NoTrans(gid, old_status);
  Mutate(*g, [&change](TransGlobal& t) {
    t.status = change.new_status;
    t.update_time = change.now;
    if (change.new_status == kStatusSucceed) t.finish_time = change.now;
    if (change.new_status == kStatusFailed) t.rollback_time = change.now;
    if (change.rollback_reason) t.rollback_reason = *change.rollback_reason;
    if (change.result) t.result = *change.result;
  });
  return Status::Ok();
}

Status MemoryStore::TouchCronTime(const std::string& gid, const std::string& expected_status,
                                  int64_t interval_s, UnixMs next_cron_time, UnixMs now) {
  std::lock_guard lock(mu_);
  TransGlobal* g = FindLocked(gid);
  if (g == nullptr || g->status != expected_status) return NoTrans(gid, expected_status);
  Mutate(*g, [&](TransGlobal& t) {
    t.next_cron_interval = interval_s;
    t.next_cron_time = next_cron_time;
    t.update_time = now;
  });
  return Status::Ok();
}

StatusOr<std::optional<TransGlobal>> MemoryStore::LockOneGlobalTrans(UnixMs now,
                                                                     int64_t expire_in_ms,
                                                                     int64_t lease_s,
                                                                     const std::string& owner) {
  std::lock_guard lock(mu_);
  if (cron_.empty() || cron_.begin()->first > now + expire_in_ms) {
    return std::optional<TransGlobal>();
  }
  TransGlobal& g = globals_.at(cron_.begin()->second);
  Mutate(g, [&](TransGlobal& t) {
    t.next_cron_time = now + lease_s * 1000;
    t.owner = owner;
    t.update_time = now;
  });
  return std::optional<TransGlobal>(g);
}

StatusOr<ResetCronResult> MemoryStore::ResetCronTime(UnixMs now, int64_t after_ms, int64_t limit) {
  if (limit <= 0) return Status::InvalidArgument("limit must be positive");
  std::lock_guard lock(mu_);
  // Collect limit + 1 candidates first (earliest first, as the SQL index range scan does) so
  // that has_remaining is exact even when `now` itself is above the threshold.
  std::vector<int64_t> ids;
  for (auto it = cron_.upper_bound({now + after_ms, std::numeric_limits<int64_t>::max()});
       it != cron_.end() && static_cast<int64_t>(ids.size()) <= limit; ++it) {
    ids.push_back(it->second);
  }
  ResetCronResult r;
  r.has_remaining = static_cast<int64_t>(ids.size()) > limit;
  if (r.has_remaining) ids.pop_back();
  for (int64_t id : ids) {
    Mutate(globals_.at(id), [now](TransGlobal& t) { t.next_cron_time = t.update_time = now; });
  }
  r.succeed_count = static_cast<int64_t>(ids.size());
  return r;
}

Status MemoryStore::ResetTransGlobalCronTime(const std::string& gid, UnixMs now) {
  std::lock_guard lock(mu_);
  TransGlobal* g = FindLocked(gid);
  if (g == nullptr) return Status::NotFound("no trans with gid: " + gid);
  Mutate(*g, [now](TransGlobal& t) { t.next_cron_time = t.update_time = now; });
  return Status::Ok();
}

Status MemoryStore::ScanKV(const std::string& cat, std::string* position, int64_t limit,
                           std::vector<KV>* out) {
  int64_t after = 0;
  if (Status st = StartPage(*position, limit, 0, &after); !st.ok()) return st;
  out->clear();
  std::lock_guard lock(mu_);
  for (auto it = kv_.upper_bound(after);
       it != kv_.end() && static_cast<int64_t>(out->size()) < limit; ++it) {
    if (it->second.cat == cat) out->push_back(it->second);
  }
  *position = NextCursor(out->size(), limit, out->empty() ? 0 : out->back().id);
  return Status::Ok();
}

StatusOr<std::vector<KV>> MemoryStore::FindKV(const std::string& cat, const std::string& key) {
  std::lock_guard lock(mu_);
  std::vector<KV> out;
  if (!key.empty()) {
    auto it = kv_key_to_id_.find({cat, key});
    if (it != kv_key_to_id_.end()) out.push_back(kv_.at(it->second));
    return out;
  }
  for (const auto& [id, kv] : kv_) {
    if (kv.cat == cat) out.push_back(kv);
  }
  return out;
}

Status MemoryStore::CreateKV(const std::string& cat, const std::string& k, const std::string& v,
                             UnixMs now) {
  std::lock_guard lock(mu_);
  if (kv_key_to_id_.count({cat, k})) return Status::UniqueConflict("kv exists: " + cat + "/" + k);
  int64_t id = next_kv_id_++;
  kv_.emplace(id, KV{id, cat, k, v, 1, now, now});
  kv_key_to_id_.emplace(std::make_pair(cat, k), id);
  return Status::Ok();
}

Status MemoryStore::UpdateKV(KV& kv, UnixMs now) {
  std::lock_guard lock(mu_);
  auto it = kv_key_to_id_.find({kv.cat, kv.k});
  if (it == kv_key_to_id_.end() || kv_.at(it->second).version != kv.version) {
    return Status::NotFound("kv " + kv.cat + "/" + kv.k + " absent or version mismatch");
  }
  KV& stored = kv_.at(it->second);
  stored.v = kv.v;
  stored.version = ++kv.version;
  stored.update_time = now;
  return Status::Ok();
}

Status MemoryStore::DeleteKV(const std::string& cat, const std::string& k) {
  std::lock_guard lock(mu_);
  auto it = kv_key_to_id_.find({cat, k});
  if (it == kv_key_to_id_.end()) return Status::NotFound("kv " + cat + "/" + k);
  kv_.erase(it->second);
  kv_key_to_id_.erase(it);
  return Status::Ok();
}

StatusOr<int64_t> MemoryStore::PurgeFinished(UnixMs before, int64_t limit) {
  std::lock_guard lock(mu_);
  int64_t purged = 0;
  for (auto it = globals_.begin(); it != globals_.end() && purged < limit;) {
    const TransGlobal& g = it->second;
    if (!g.IsFinished() || g.update_time >= before) {
      ++it;
      continue;
    }
    branches_.erase(g.gid);
    attempts_.erase(g.gid);
    gid_to_id_.erase(g.gid);
    it = globals_.erase(it);
    ++purged;
  }
  return purged;
}

Status MemoryStore::AddAttempts(const std::vector<BranchAttempt>& rows, int64_t keep) {
  std::lock_guard lock(mu_);
  for (BranchAttempt a : rows) {
    a.id = next_attempt_id_++;
    std::vector<BranchAttempt>& list = attempts_[a.gid];
    const std::string branch_id = a.branch_id;
    const std::string op = a.op;
    const bool final = a.final;
    list.push_back(std::move(a));
    if (final) continue;
    // Oldest first: drop the first ones of this (branch_id, op) beyond `keep`.
    int64_t same = 0;
    for (const auto& e : list) same += e.branch_id == branch_id && e.op == op;
    for (auto it = list.begin(); same > keep && it != list.end();) {
      if (it->branch_id == branch_id && it->op == op) {
        it = list.erase(it);
        --same;
      } else {
        ++it;
      }
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<BranchAttempt>> MemoryStore::FindAttempts(const std::string& gid) {
  std::lock_guard lock(mu_);
  auto it = attempts_.find(gid);
  if (it == attempts_.end()) return std::vector<BranchAttempt>{};
  return it->second;
}

}  // namespace lynx::store
