// The JSON the Redis store keeps, in DTM's format so that DTM and dtmd can read each other's
// data: the json tags of DTM's TransGlobalStore / TransBranchStore / KVStore (dtmsvr/storage),
// times as Go marshals time.Time (RFC 3339 in the local zone, fraction only when non-zero; we
// keep milliseconds), []byte as standard base64, empty fields omitted where DTM's tags say
// omitempty. Internal to the Redis store.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace lynx::store::redis {

// A zset score in unix seconds with the milliseconds as the fraction ("1700000000.123"): still
// DTM's "unix seconds", but it keeps the contract's millisecond order. Exact decimal text, so
// Redis parses it to the double nearest ms / 1000, which preserves the order of distinct ms.
std::string Score(UnixMs ms);

// A time as DTM's JSON carries it. 0 -> "" (the caller omits the field or writes null).
std::string TimeText(UnixMs ms);

// The objects WITHOUT their "id" member: ids are allocated inside the scripts, which prepend
// `"id":<n>` to the text. Branches take the gid they are stored under.
std::string EncodeGlobalBody(const TransGlobal& g);
std::string EncodeBranchBody(const std::string& gid, const TransBranch& b);
std::string EncodeKVBody(const KV& kv);
// An attempt without its id (the script assigns it); DecodeAttempt reads it back with the id.
std::string EncodeAttemptBody(const BranchAttempt& a);

// Accept what DTM or dtmd wrote (unknown members such as steps, payloads and the flattened
// options are ignored; a global's options come from its "options" text, as DTM reads them).
StatusOr<TransGlobal> DecodeGlobal(std::string_view json);
StatusOr<TransBranch> DecodeBranch(std::string_view json);
StatusOr<KV> DecodeKV(std::string_view json);
StatusOr<BranchAttempt> DecodeAttempt(std::string_view json);

// The compact layout (RedisOptions::layout, redis_store.h): one hash per transaction, the same
// JSON, with the members a later write changes kept beside it.
// The global's fields: "j" (its JSON as created) and the members a write may change (status,
// update_time, finish_time, rollback_time, rollback_reason, result, next_cron_time,
// next_cron_interval, owner), whose values win over j's ("" = absent). The scripts keep the same
// list (MUTABLE in redis_scripts.cc).
const std::vector<std::string>& CompactGlobalFields();
StatusOr<TransGlobal> DecodeCompactGlobal(
    const std::vector<std::pair<std::string, std::string>>& fields);
// A branch row's field in the transaction's hash (its JSON) and the field of its later state:
// "r" / "s", then a digit (no global field has a digit second).
std::string BranchField(const std::string& branch_id, const std::string& op);
std::string BranchStateField(const std::string& branch_id, const std::string& op);
// The state: status, update_time, finish_time, rollback_time, separated by 0x1f (times as
// TimeText; "" = none). `state` may be null (the row was never updated).
std::string EncodeBranchState(const TransBranch& b);
StatusOr<TransBranch> DecodeCompactBranch(std::string_view row, const std::string* state);
// True for a row's JSON field (BranchField).
bool IsBranchField(std::string_view field);

}  // namespace lynx::store::redis
