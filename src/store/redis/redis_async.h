// AsyncConn: one pipelined Redis connection driven by an asio io_context (dtmd's network
// threads), for the store calls on every transaction's path. A command is written without
// waiting for the replies of the commands before it, and its reply completes it on an io thread:
// no store thread sits blocked in read(), and the two thread handoffs per call of the
// synchronous pool (io thread -> store thread -> io thread) are gone. Internal to the Redis store.
//
// Failure handling matches RedisConn: any transport error, a protocol error in a reply, or a
// reply that takes longer than io_timeout_ms fails every command in flight with kUnavailable and
// closes the socket; `sent` tells each command whether its bytes had started to go out (if not,
// the server cannot have run it, so even a write may be sent again). The next command connects
// again (connect_timeout_ms, AUTH, CLIENT SETNAME first). Thread-safe; every completion runs
// exactly once, on an io thread, or from the destructor with kUnavailable.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/redis/redis_conn.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace lynx::store::redis {

// Appends one command in RESP form (an array of bulk strings: the bytes hiredis' formatter
// writes) to `out`. Written here rather than through redisFormatCommandArgv, whose sprintf per
// argument was 2% of dtmd's CPU under load.
void AppendCommand(const std::vector<std::string>& argv, std::string* out);

class AsyncConn {
 public:
  using Done = std::function<void(StatusOr<Reply> reply, bool sent)>;

  AsyncConn(boost::asio::io_context& io, ConnOptions options);
  // Fails the commands still waiting (kUnavailable, sent) and closes the socket.
  ~AsyncConn();
  AsyncConn(const AsyncConn&) = delete;
  AsyncConn& operator=(const AsyncConn&) = delete;

  // Queues one command; `done` gets its reply (error replies included, as with RedisConn).
  void Command(std::vector<std::string> argv, Done done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace lynx::store::redis
