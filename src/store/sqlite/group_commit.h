// GroupCommitWriter: the single writer of the SQLite store. Callers hand it a write operation and
// block until the operation is durable (Run), or are called back once it is (RunAsync). Its thread
// runs every queued operation in one transaction, each inside its own SAVEPOINT (a failing
// operation rolls back alone), and commits once: many concurrent writes share one WAL fsync.
// Thread-safe; Run may be called from any thread except the writer's own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "common/status.h"
#include "store/sqlite/sqlite_conn.h"

namespace lynx::store::sqlite {

class GroupCommitWriter {
 public:
  // Takes the read-write connection; starts the writer thread.
  GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch);
  // Runs what is already queued, then stops the thread and closes the connection.
  ~GroupCommitWriter();
  GroupCommitWriter(const GroupCommitWriter&) = delete;
  GroupCommitWriter& operator=(const GroupCommitWriter&) = delete;

  // Runs op(conn) -> Status on the writer thread inside the next batch and returns once that
  // batch committed: op's own status when it failed, the commit's error when the batch failed,
  // otherwise kOk. Whatever op wrote to its captures is only meaningful when kOk is returned.
  template <class F>
  Status Run(F&& op) {
    using Op = std::remove_reference_t<F>;
    Pending p;
    p.fn = [](void* ctx, SqliteConn& conn) { return (*static_cast<Op*>(ctx))(conn); };
    p.ctx = const_cast<void*>(static_cast<const void*>(&op));
    return Submit(&p);
  }

  // The same without a waiting thread: `done` gets the status on the writer thread once the
  // batch committed (or at once, kUnavailable, when the writer is closing). `op` runs on the
  // writer thread; what it captures must live until `done` ran.
  void RunAsync(std::function<Status(SqliteConn&)> op, std::function<void(Status)> done);

  // Operations executed and transactions committed so far; writes / commits is the mean batch.
  uint64_t writes() const { return writes_.load(std::memory_order_relaxed); }
  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }

 private:
  // One queued operation; it lives on the caller's stack while the caller waits (Run), or on
  // the heap, owned by the writer once queued (RunAsync: `callback` set).
  struct Pending {
    Status (*fn)(void* ctx, SqliteConn& conn) = nullptr;
    void* ctx = nullptr;
    Status status;
    bool done = false;
    std::condition_variable done_cv;
    std::function<Status(SqliteConn&)> owned_op;  // RunAsync's op (ctx points to it)
    std::function<void(Status)> callback;         // RunAsync's done
  };

  Status Submit(Pending* p);
  void Loop();
  // Runs and commits one batch, leaving each operation's status in its Pending.
  void RunBatch(const std::vector<Pending*>& batch);
  Status Exec(const char* sql);

  std::unique_ptr<SqliteConn> conn_;
  const size_t max_batch_;
  std::mutex mu_;
  std::condition_variable work_cv_;
  std::deque<Pending*> queue_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_
  std::atomic<uint64_t> writes_{0};
  std::atomic<uint64_t> commits_{0};
  std::thread thread_;  // last: started once everything above is initialised
};

}  // namespace lynx::store::sqlite
