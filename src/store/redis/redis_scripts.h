// The Lua scripts of the Redis store: every mutating Store call is one of them, so it runs
// atomically in one round trip and several dtmd (or DTM) instances can share one Redis.
// Internal to the Redis store.
//
// Calling convention (all scripts): KEYS[1] = the main key the script works on (every other key
// it touches carries the same prefix, so the hash tag keeps them in one cluster slot);
// ARGV[1] = the prefix P, ARGV[2] = DataExpire, ARGV[3] = FinishedDataExpire (seconds, 0 = no
// TTL), ARGV[4...] = the arguments listed next to each script in redis_scripts.cc. Scripts
// return DTM's sentinels 'NOT_FOUND' / 'UNIQUE_CONFLICT' as plain strings.
#pragma once

#include <cstddef>
#include <string>

namespace lynx::store::redis {

enum class ScriptId : size_t {
  kSaveNew,                   // MaySaveNewTrans
  kSaveBranches,              // LockGlobalSaveBranches
  kChangeStatus,              // ChangeGlobalStatus
  kSaveBranchesChangeStatus,  // SaveBranchesChangeStatus
  kTouchCron,                 // TouchCronTime
  kLockOne,                   // LockOneGlobalTrans
  kResetCron,                 // ResetCronTime
  kResetOne,                  // ResetTransGlobalCronTime
  kPurge,                     // PurgeFinished
  kAddAttempts,               // AddAttempts
  kCleanGlobals,              // drops index entries of globals whose keys expired
  kCreateKV,
  kUpdateKV,
  kDeleteKV,
  kCleanKV,  // drops index entries of KV entries that are gone
  kAdoptKV,  // indexes KV entries DTM wrote (PopulateSchema)
  kCount,
};

struct ScriptSource {
  const char* name;
  std::string text;  // the shared prelude followed by the script's body
};

// The script in DTM's layout or in the compact one (RedisOptions::layout).
const ScriptSource& Script(ScriptId id, bool compact);

}  // namespace lynx::store::redis
