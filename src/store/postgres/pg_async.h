// AsyncPgPool: non-blocking libpq connections driven by an asio io_context (dtmd's network
// threads), for the single-statement writes on every transaction's path. A statement is sent
// with PQsendQueryPrepared and its result read when the socket is readable: no store thread sits
// blocked for the round trip and the commit's fsync, and the two thread handoffs per call of the
// blocking pool are gone. Internal to the PostgreSQL store.
//
// Up to `max_conns` connections, opened on demand (PQconnectStart / PQconnectPoll, bounded by
// `connect_timeout`); each runs one statement at a time (its commit is its own: several in
// flight share WAL flushes across connections as with the blocking pool); statements wait in
// FIFO order for a free connection. A statement is prepared on a connection the first time it
// runs there. A connection that fails is closed and its statement fails kUnavailable (`sent`:
// whether it may have reached the server); when a connection cannot be opened, every statement
// waiting fails kUnavailable unsent. Connections older than `max_life` are closed when idle.
// Thread-safe; completions run on an io thread, or from the destructor with kUnavailable.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "store/postgres/pg_conn.h"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace lynx::store::pg {

class AsyncPgPool {
 public:
  using Done = std::function<void(StatusOr<PgResult> result, bool sent)>;

  AsyncPgPool(boost::asio::io_context& io, std::string conninfo, size_t max_conns,
              std::chrono::milliseconds connect_timeout, std::chrono::seconds max_life);
  // Closes the connections; what is still queued or running fails kUnavailable. Called once no
  // thread runs the io_context any more.
  ~AsyncPgPool();
  AsyncPgPool(const AsyncPgPool&) = delete;
  AsyncPgPool& operator=(const AsyncPgPool&) = delete;

  // Runs `sql` (a string constant: prepared statements are cached by the pointer) with `params`.
  void Run(const char* sql, PgParams params, Done done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace lynx::store::pg
