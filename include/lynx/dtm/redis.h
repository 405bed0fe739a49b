// RedisDb: one connection to a Redis server, for the Redis variant of the sub-transaction barrier
// (BranchBarrier::RedisCheckAdjustAmount / RedisQueryPrepared) and the business code around it.
//   auto rd = lynx::dtm::RedisDb::Connect("127.0.0.1", 6379);
//   auto reply = rd->Command({"SET", "account-1", "10000"});
// No hiredis types appear here. Thread-compatible: one connection per thread (or a lock).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <lynx/status.h>

namespace lynx::dtm {

struct RedisReply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // kString and kStatus
  int64_t integer = 0;
  std::vector<RedisReply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
};

class RedisDb {
 public:
  // Connects with `timeout_ms` for the connection and for each command. Unavailable on failure.
  static StatusOr<RedisDb> Connect(const std::string& host, int port, int64_t timeout_ms = 5000);

  RedisDb(RedisDb&&) noexcept;
  RedisDb& operator=(RedisDb&&) noexcept;
  ~RedisDb();

  // One command, arguments binary-safe. A Redis error reply is Internal with Redis' text; a lost
  // connection is Unavailable (the connection is then reopened by the next command).
  StatusOr<RedisReply> Command(const std::vector<std::string>& args);
  // EVAL script with its KEYS and ARGV.
  StatusOr<RedisReply> Eval(const std::string& script, const std::vector<std::string>& keys,
                            const std::vector<std::string>& args);

 private:
  struct Impl;
  explicit RedisDb(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lynx::dtm
