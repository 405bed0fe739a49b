// The Redis side of BranchBarrier (dtm-protocol.md §8.5): the balance check, the barrier keys and
// the adjustment run in one Lua script, so they are atomic without a transaction.
#include <lynx/dtm/barrier.h>
#include <lynx/dtm/redis.h>

namespace lynx::dtm {
namespace {

// KEYS: 1 the amount key, 2 this call's barrier key, 3 the origin op's barrier key.
// ARGV: 1 the amount, 2 the origin op ("" for none), 3 the barrier keys' expiry in seconds.
constexpr char kCheckAdjustScript[] = R"lua(
local balance = redis.call('GET', KEYS[1])
if balance == false or tonumber(balance) + tonumber(ARGV[1]) < 0 then
  return 'FAILURE'
end
if redis.call('GET', KEYS[2]) ~= false then
  return 'DUPLICATE'
end
redis.call('SET', KEYS[2], 'op', 'EX', ARGV[3])
if ARGV[2] ~= '' and redis.call('GET', KEYS[3]) == false then
  redis.call('SET', KEYS[3], 'rollback', 'EX', ARGV[3])
  return 'EMPTY'
end
redis.call('INCRBY', KEYS[1], ARGV[1])
return 'OK'
)lua";

// KEYS: 1 the msg barrier key. ARGV: 1 its expiry in seconds.
constexpr char kQueryPreparedScript[] = R"lua(
local v = redis.call('GET', KEYS[1])
if v == false then
  redis.call('SET', KEYS[1], 'rollback', 'EX', ARGV[1])
  v = 'rollback'
end
if v == 'rollback' then
  return 'FAILURE'
end
return 'OK'
)lua";

// Only cancel and compensate have an origin in the Redis variant (no rollback mapping, as Go).
std::string RedisOriginOp(const std::string& op) {
  if (op == "cancel") return "try";
  if (op == "compensate") return "action";
  return "";
}

std::string BarrierKey(const std::string& gid, const std::string& branch_id, const std::string& op,
                       const std::string& barrier_id) {
  return gid + "-" + branch_id + "-" + op + "-" + barrier_id;
}

}  // namespace

Status BranchBarrier::RedisCheckAdjustAmount(RedisDb& rd, const std::string& key, int64_t amount,
                                             int64_t barrier_expire_seconds) {
  if (barrier_expire_seconds <= 0) {
    return Status::InvalidArgument("RedisCheckAdjustAmount: barrier expiry must be positive");
  }
  std::string bid = NewBarrierId();
  std::string origin = RedisOriginOp(op_);
  auto reply = rd.Eval(
      kCheckAdjustScript,
      {key, BarrierKey(gid_, branch_id_, op_, bid), BarrierKey(gid_, branch_id_, origin, bid)},
      {std::to_string(amount), origin, std::to_string(barrier_expire_seconds)});
  if (!reply.ok()) return reply.status();
  if (reply->str == "FAILURE") return Status::Failure("FAILURE");
  if (reply->str == "DUPLICATE" && op_ == "msg") {
    return Status(StatusCode::kUniqueConflict, kResultDuplicated);
  }
  return Status::Ok();
}

Status BranchBarrier::RedisQueryPrepared(RedisDb& rd, int64_t barrier_expire_seconds) const {
  if (barrier_expire_seconds <= 0) {
    return Status::InvalidArgument("RedisQueryPrepared: barrier expiry must be positive");
  }
  auto reply = rd.Eval(kQueryPreparedScript, {BarrierKey(gid_, "00", "msg", "01")},
                       {std::to_string(barrier_expire_seconds)});
  if (!reply.ok()) return reply.status();
  if (reply->str == "FAILURE") return Status::Failure("FAILURE");
  return Status::Ok();
}

}  // namespace lynx::dtm
