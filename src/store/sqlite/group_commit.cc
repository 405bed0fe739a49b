#include "store/sqlite/group_commit.h"

#include <utility>

namespace lynx::store::sqlite {

namespace {

// Statement constants: the connection caches prepared statements by pointer.
constexpr char kBegin[] = "BEGIN IMMEDIATE";
constexpr char kCommit[] = "COMMIT";
constexpr char kRollback[] = "ROLLBACK";
constexpr char kSavepoint[] = "SAVEPOINT op";
constexpr char kRelease[] = "RELEASE op";
constexpr char kRollbackTo[] = "ROLLBACK TO op";

}  // namespace

GroupCommitWriter::GroupCommitWriter(std::unique_ptr<SqliteConn> conn, size_t max_batch)
    : conn_(std::move(conn)), max_batch_(max_batch == 0 ? 1 : max_batch) {
  thread_ = std::thread([this] { Loop(); });
}

GroupCommitWriter::~GroupCommitWriter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_one();
  thread_.join();
}

Status GroupCommitWriter::Submit(Pending* p) {
  std::unique_lock lock(mu_);
  if (stopping_) return Status::Unavailable("sqlite store is closing");
  queue_.push_back(p);
  // Only the first arrival needs to wake the writer; later ones join the same wait.
  if (queue_.size() == 1) work_cv_.notify_one();
  p->done_cv.wait(lock, [p] { return p->done; });
  return std::move(p->status);
}

void GroupCommitWriter::RunAsync(std::function<Status(SqliteConn&)> op,
                                 std::function<void(Status)> done) {
  auto p = std::make_unique<Pending>();
  p->owned_op = std::move(op);
  p->fn = [](void* ctx, SqliteConn& conn) {
    return (*static_cast<std::function<Status(SqliteConn&)>*>(ctx))(conn);
  };
  p->ctx = &p->owned_op;
  p->callback = std::move(done);
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      queue_.push_back(p.release());
      if (queue_.size() == 1) work_cv_.notify_one();
      return;
    }
  }
  p->callback(Status::Unavailable("sqlite store is closing"));
}

void GroupCommitWriter::Loop() {
  std::vector<Pending*> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything queued has been run
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(queue_.front());
        queue_.pop_front();
      }
    }
    // Operations arriving from here on queue up for the next batch.
    RunBatch(batch);
    std::vector<std::unique_ptr<Pending>> called_back;
    {
      std::lock_guard lock(mu_);
      // Notify under the lock: once a caller sees done it returns and destroys its Pending.
      for (Pending* p : batch) {
        if (p->callback) {
          called_back.emplace_back(p);
          continue;
        }
        p->done = true;
        p->done_cv.notify_one();
      }
    }
    // Outside the lock: a callback may queue the next write at once.
    for (auto& p : called_back) {
      try {
        p->callback(std::move(p->status));
      } catch (...) {
        // The writer thread must survive a caller's failure (it would end the process).
      }
    }
    batch.clear();
  }
}

Status GroupCommitWriter::Exec(const char* sql) {
  StatusOr<Stmt> stmt = conn_->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  return stmt->Run();
}

void GroupCommitWriter::RunBatch(const std::vector<Pending*>& batch) {
  auto fail_all = [&batch](const Status& st) {
    for (Pending* p : batch) p->status = st;
  };
  if (Status st = Exec(kBegin); !st.ok()) {
    fail_all(st);
    return;
  }
  for (Pending* p : batch) {
    Status st = Exec(kSavepoint);
    if (st.ok()) {
      p->status = p->fn(p->ctx, *conn_);
      writes_.fetch_add(1, std::memory_order_relaxed);
      if (p->status.ok()) {
        st = Exec(kRelease);
      } else if (conn_->InTransaction()) {
        // A refused operation (unique conflict, CAS miss) undoes only its own changes.
        st = Exec(kRollbackTo);
        if (st.ok()) st = Exec(kRelease);
      } else {
        // SQLite rolled the whole transaction back (I/O error, disk full): the operations run
        // so far are lost with it.
        st = p->status;
      }
    }
    if (!st.ok()) {
      if (conn_->InTransaction()) (void)Exec(kRollback);
      fail_all(st);
      return;
    }
  }
  // One COMMIT, hence one WAL fsync, acknowledges the whole batch.
  if (Status st = Exec(kCommit); !st.ok()) {
    if (conn_->InTransaction()) (void)Exec(kRollback);
    fail_all(st);
    return;
  }
  commits_.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace lynx::store::sqlite
