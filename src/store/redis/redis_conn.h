// RedisConn: one synchronous hiredis connection, and RedisPool, a bounded, lazily grown set of
// them. Internal to the Redis store (the only files that include hiredis). A connection is used by
// one thread at a time; the pool hands each connection to one borrower.
#pragma once

#include <hiredis/hiredis.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"

namespace lynx::store::redis {

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
// A reply of any type, error replies included (the caller decides what an error reply means:
// NOSCRIPT is expected, for instance).
using Reply = std::unique_ptr<redisReply, ReplyFree>;

struct ConnOptions {
  std::string host;
  int port = 6379;
  std::string user;  // ACL user (Redis 6+); "" = AUTH with the password alone
  std::string password;
  std::string client_name;  // CLIENT SETNAME, so CLIENT LIST shows whose connection it is
  int64_t connect_timeout_ms = 5000;
  int64_t io_timeout_ms = 10000;
};

class RedisConn {
 public:
  // Connects (and AUTHenticates when a password is set); kUnavailable naming host:port when the
  // server cannot be reached, kInvalidArgument when it refuses the credentials.
  static StatusOr<std::unique_ptr<RedisConn>> Connect(const ConnOptions& o);
  ~RedisConn();
  RedisConn(const RedisConn&) = delete;
  RedisConn& operator=(const RedisConn&) = delete;

  // Sends one command and reads its reply. A transport failure breaks the connection and is
  // kUnavailable; `*sent` then tells whether the whole command had been written before the
  // failure (if not, the server cannot have run it, so even a write may be retried elsewhere).
  StatusOr<Reply> Command(const std::vector<std::string>& argv, bool* sent);

  // Reads only: sends the commands together and reads their replies in order (one round trip).
  StatusOr<std::vector<Reply>> Pipeline(const std::vector<std::vector<std::string>>& commands);

  bool Broken() const { return broken_; }
  // True when the server closed this idle connection (the socket is readable although no command
  // is pending: EOF after CLIENT KILL, a timeout or a restart). Checked before a pooled
  // connection is reused, so that a write is not sent into a dead socket.
  bool PeerClosed() const;

 private:
  RedisConn(redisContext* ctx, std::string where) : ctx_(ctx), where_(std::move(where)) {}
  Status Fail(const char* what);

  redisContext* ctx_;
  std::string where_;  // "host:port", for messages
  bool broken_ = false;
};

// Up to `max_conns` connections, opened on demand; Acquire blocks while all are borrowed. A
// broken connection is closed when its lease ends; an idle one the server closed is replaced on
// Acquire.
class RedisPool {
 public:
  class Lease {
   public:
    Lease(RedisPool* pool, std::unique_ptr<RedisConn> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (conn_ != nullptr) pool_->Release(std::move(conn_));
    }
    RedisConn* operator->() const { return conn_.get(); }
    RedisConn& operator*() const { return *conn_; }

   private:
    RedisPool* pool_;
    std::unique_ptr<RedisConn> conn_;
  };

  RedisPool(ConnOptions options, size_t max_conns);
  // kUnavailable when a new connection was needed and could not be opened.
  StatusOr<Lease> Acquire();

 private:
  void Release(std::unique_ptr<RedisConn> conn);

  const ConnOptions options_;
  const size_t max_conns_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<RedisConn>> idle_;  // guarded by mu_
  size_t open_ = 0;                               // idle + borrowed + connecting, guarded by mu_
};

// hiredis' view of a command: pointers and lengths of its arguments (which must outlive it).
struct ArgvView {
  explicit ArgvView(const std::vector<std::string>& argv) {
    ptrs.reserve(argv.size());
    lengths.reserve(argv.size());
    for (const auto& a : argv) {
      ptrs.push_back(a.data());
      lengths.push_back(a.size());
    }
  }
  int argc() const { return static_cast<int>(ptrs.size()); }
  std::vector<const char*> ptrs;
  std::vector<size_t> lengths;
};

// The text of an error reply ("" for other replies).
std::string ErrorText(const redisReply& r);

}  // namespace lynx::store::redis
