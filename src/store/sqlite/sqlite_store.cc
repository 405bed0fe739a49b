#include "store/sqlite/sqlite_store.h"

#include <filesystem>
#include <fstream>

#include "store/store_util.h"

#include <algorithm>
#include <charconv>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include "store/sqlite/group_commit.h"
#include "store/sqlite/sqlite_conn.h"

namespace lynx::store {

using sqlite::ConnPool;
using sqlite::GroupCommitWriter;
using sqlite::SqliteConn;
using sqlite::Stmt;

namespace {

// Times are INTEGER Unix ms, NULL for 0. next_cron_time is NOT NULL: a transaction created
// without one is due at once rather than never, so it cannot get stuck outside the cron.
// The cron index is partial: it holds only unfinished transactions, so leasing and resetting stay
// index range scans however much finished history the table accumulates. Its WHERE clause must
// appear verbatim in the cron queries (LYNX_UNFINISHED) for SQLite to use it.
#define LYNX_UNFINISHED "status IN ('prepared','submitted','aborting')"
#define LYNX_FINISHED "status IN ('succeed','failed')"

constexpr char kSchema[] =
    "CREATE TABLE IF NOT EXISTS trans_global ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " gid TEXT NOT NULL UNIQUE,"
    " trans_type TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " query_prepared TEXT NOT NULL DEFAULT '',"
    " protocol TEXT NOT NULL DEFAULT '',"
    " create_time INTEGER, update_time INTEGER, finish_time INTEGER, rollback_time INTEGER,"
    " options TEXT NOT NULL DEFAULT '',"
    " custom_data TEXT NOT NULL DEFAULT '',"
    " next_cron_interval INTEGER NOT NULL DEFAULT 0,"
    " next_cron_time INTEGER NOT NULL DEFAULT 0,"
    " owner TEXT NOT NULL DEFAULT '',"
    " ext_data TEXT NOT NULL DEFAULT '',"
    " result TEXT NOT NULL DEFAULT '',"
    " rollback_reason TEXT NOT NULL DEFAULT '');"
    "CREATE INDEX IF NOT EXISTS trans_global_cron ON trans_global(next_cron_time)"
    " WHERE " LYNX_UNFINISHED
    ";"
    // Retention scans finished transactions by age without touching the live ones.
    "CREATE INDEX IF NOT EXISTS trans_global_finished ON trans_global(update_time)"
    " WHERE " LYNX_FINISHED
    ";"
    "CREATE TABLE IF NOT EXISTS trans_branch_op ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " gid TEXT NOT NULL,"
    " url TEXT NOT NULL DEFAULT '',"
    " bin_data BLOB,"
    " branch_id TEXT NOT NULL,"
    " op TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " create_time INTEGER, update_time INTEGER, finish_time INTEGER, rollback_time INTEGER,"
    " UNIQUE(gid, branch_id, op));"
    "CREATE TABLE IF NOT EXISTS kv ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " cat TEXT NOT NULL,"
    " k TEXT NOT NULL,"
    " v TEXT NOT NULL DEFAULT '',"
    " version INTEGER NOT NULL DEFAULT 1,"
    " create_time INTEGER, update_time INTEGER,"
    " UNIQUE(cat, k));"
    // Attempt history (not in DTM): each (gid, branch_id, op) keeps its newest attempts.
    // Clustered by its key (WITHOUT ROWID): one B-tree insert per attempt instead of a row and
    // an index entry, and every query (find by gid, trim, purge) is a range of that key. The
    // ids are assigned by the store (AddAttempts runs on the single writer).
    "CREATE TABLE IF NOT EXISTS trans_branch_attempt ("
    " gid TEXT NOT NULL,"
    " branch_id TEXT NOT NULL,"
    " op TEXT NOT NULL,"
    " id INTEGER NOT NULL,"
    " start_time INTEGER NOT NULL DEFAULT 0,"
    " duration_ms INTEGER NOT NULL DEFAULT 0,"
    " target TEXT NOT NULL DEFAULT '',"
    " outcome TEXT NOT NULL DEFAULT '',"
    " code INTEGER NOT NULL DEFAULT 0,"
    " detail TEXT NOT NULL DEFAULT '',"
    " owner TEXT NOT NULL DEFAULT '',"
    " PRIMARY KEY (gid, branch_id, op, id)) WITHOUT ROWID;";

// Column lists; ReadGlobal/ReadBranch/ReadKV read them by position.
#define LYNX_GLOBAL_COLUMNS                                                                \
  "id, gid, trans_type, status, query_prepared, protocol, create_time, update_time,"       \
  " finish_time, rollback_time, options, custom_data, next_cron_interval, next_cron_time," \
  " owner, ext_data, result, rollback_reason"
#define LYNX_BRANCH_COLUMNS                                                               \
  "id, gid, url, bin_data, branch_id, op, status, create_time, update_time, finish_time," \
  " rollback_time"
#define LYNX_KV_COLUMNS "id, cat, k, v, version, create_time, update_time"

constexpr char kFindGlobal[] = "SELECT " LYNX_GLOBAL_COLUMNS " FROM trans_global WHERE gid = ?1";
// The cursor bound is always present (INT64_MAX on the first page) so every page is a rowid
// range scan; the optional filters are evaluated on the rows it visits.
constexpr char kScanGlobals[] =
    "SELECT " LYNX_GLOBAL_COLUMNS
    " FROM trans_global WHERE id < ?1 AND (?2 = '' OR status = ?2)"
    " AND (?3 = '' OR trans_type = ?3) AND (?4 = 0 OR create_time >= ?4)"
    " AND (?5 = 0 OR create_time <= ?5) AND substr(gid, 1, length(?7)) = ?7"
    " AND (?8 = 0 OR (" LYNX_UNFINISHED " AND next_cron_time < ?8)) ORDER BY id DESC LIMIT ?6";
constexpr char kInsertGlobal[] =
    "INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol, create_time,"
    " update_time, finish_time, rollback_time, options, custom_data, next_cron_interval,"
    " next_cron_time, owner, ext_data, result, rollback_reason)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)"
    " ON CONFLICT (gid) DO NOTHING";
constexpr char kGlobalHasStatus[] = "SELECT 1 FROM trans_global WHERE gid = ?1 AND status = ?2";
constexpr char kChangeStatus[] =
    "UPDATE trans_global SET status = ?1, update_time = ?2,"
    " finish_time = CASE WHEN ?1 = 'succeed' THEN ?2 ELSE finish_time END,"
    " rollback_time = CASE WHEN ?1 = 'failed' THEN ?2 ELSE rollback_time END,"
    " rollback_reason = CASE WHEN ?3 THEN ?4 ELSE rollback_reason END,"
    " result = CASE WHEN ?5 THEN ?6 ELSE result END"
    " WHERE gid = ?7 AND status = ?8";
constexpr char kTouchCron[] =
    "UPDATE trans_global SET next_cron_interval = ?1, next_cron_time = ?2, update_time = ?3"
    " WHERE gid = ?4 AND status = ?5";
// Earliest due first (ties by id, the index order), like the memory store.
constexpr char kLease[] =
    "UPDATE trans_global SET next_cron_time = ?1, owner = ?2, update_time = ?3"
    " WHERE id = (SELECT id FROM trans_global WHERE " LYNX_UNFINISHED
    " AND next_cron_time <= ?4 ORDER BY next_cron_time LIMIT 1)"
    " RETURNING " LYNX_GLOBAL_COLUMNS;
constexpr char kResetCandidates[] = "SELECT id FROM trans_global WHERE " LYNX_UNFINISHED
                                    " AND next_cron_time > ?1 ORDER BY next_cron_time LIMIT ?2";
constexpr char kResetById[] =
    "UPDATE trans_global SET next_cron_time = ?1, update_time = ?1 WHERE id = ?2";
constexpr char kResetByGid[] =
    "UPDATE trans_global SET next_cron_time = ?1, update_time = ?1 WHERE gid = ?2";

constexpr char kFindBranches[] =
    "SELECT " LYNX_BRANCH_COLUMNS " FROM trans_branch_op WHERE gid = ?1 ORDER BY id";
constexpr char kInsertBranch[] =
    "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, status, create_time,"
    " update_time, finish_time, rollback_time)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
constexpr char kUpsertBranch[] =
    "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, status, create_time,"
    " update_time, finish_time, rollback_time)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    " ON CONFLICT (gid, branch_id, op) DO UPDATE SET status = excluded.status,"
    " finish_time = excluded.finish_time, rollback_time = excluded.rollback_time,"
    " update_time = excluded.update_time";

constexpr char kScanKV[] =
    "SELECT " LYNX_KV_COLUMNS " FROM kv WHERE cat = ?1 AND id > ?2 ORDER BY id LIMIT ?3";
constexpr char kFindKV[] = "SELECT " LYNX_KV_COLUMNS " FROM kv WHERE cat = ?1 AND k = ?2";
constexpr char kFindKVCat[] = "SELECT " LYNX_KV_COLUMNS " FROM kv WHERE cat = ?1 ORDER BY id";
constexpr char kCreateKV[] =
    "INSERT INTO kv (cat, k, v, version, create_time, update_time)"
    " VALUES (?1, ?2, ?3, 1, ?4, ?4) ON CONFLICT (cat, k) DO NOTHING";
constexpr char kUpdateKV[] =
    "UPDATE kv SET v = ?1, version = version + 1, update_time = ?2"
    " WHERE cat = ?3 AND k = ?4 AND version = ?5";
constexpr char kDeleteKV[] = "DELETE FROM kv WHERE cat = ?1 AND k = ?2";
#define LYNX_ATTEMPT_COLUMNS \
  "id, gid, branch_id, op, start_time, duration_ms, target, outcome, code, detail, owner"
constexpr char kInsertAttempt[] =
    "INSERT INTO trans_branch_attempt (gid, branch_id, op, start_time, duration_ms, target,"
    " outcome, code, detail, owner, id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
constexpr char kMaxAttemptId[] = "SELECT coalesce(max(id), 0) FROM trans_branch_attempt";
constexpr int kAttemptColumns = 11;
// kInsertAttempt for kAttemptChunk rows in one statement: a batch of attempts costs a fraction of
// the statement executions (the statement is cached like the others: its text is built once).
constexpr int kAttemptChunk = 16;
const char* InsertAttemptsChunk() {
  static const std::string sql = [] {
    std::string s =
        "INSERT INTO trans_branch_attempt (gid, branch_id, op, start_time, duration_ms, target,"
        " outcome, code, detail, owner, id) VALUES ";
    for (int r = 0; r < kAttemptChunk; ++r) {
      s += r ? ",(" : "(";
      for (int k = 1; k <= kAttemptColumns; ++k) {
        s += (k > 1 ? ",?" : "?") + std::to_string(r * kAttemptColumns + k);
      }
      s += ")";
    }
    return s;
  }();
  return sql.c_str();
}
// Everything of the key up to the (keep+1)-th newest; nothing when there are at most `keep`.
constexpr char kTrimAttempts[] =
    "DELETE FROM trans_branch_attempt WHERE gid = ?1 AND branch_id = ?2 AND op = ?3 AND id <= ("
    "SELECT id FROM trans_branch_attempt WHERE gid = ?1 AND branch_id = ?2 AND op = ?3"
    " ORDER BY id DESC LIMIT 1 OFFSET ?4)";
constexpr char kFindAttempts[] =
    "SELECT " LYNX_ATTEMPT_COLUMNS " FROM trans_branch_attempt WHERE gid = ?1 ORDER BY id";
constexpr char kDeleteAttempts[] = "DELETE FROM trans_branch_attempt WHERE gid = ?1";
constexpr char kPing[] = "SELECT 1";
constexpr char kPurgeCandidates[] = "SELECT id, gid FROM trans_global WHERE " LYNX_FINISHED
                                    " AND update_time < ?1 ORDER BY update_time LIMIT ?2";
constexpr char kDeleteBranches[] = "DELETE FROM trans_branch_op WHERE gid = ?1";
constexpr char kDeleteGlobal[] = "DELETE FROM trans_global WHERE id = ?1";

#undef LYNX_UNFINISHED
#undef LYNX_FINISHED
#undef LYNX_GLOBAL_COLUMNS
#undef LYNX_BRANCH_COLUMNS
#undef LYNX_KV_COLUMNS

TransGlobal ReadGlobal(const Stmt& s) {
  TransGlobal g;
  g.id = s.Int(0);
  g.gid = s.Text(1);
  g.trans_type = s.Text(2);
  g.status = s.Text(3);
  g.query_prepared = s.Text(4);
  g.protocol = s.Text(5);
  g.create_time = s.Time(6);
  g.update_time = s.Time(7);
  g.finish_time = s.Time(8);
  g.rollback_time = s.Time(9);
  g.options = s.Text(10);
  g.custom_data = s.Text(11);
  g.next_cron_interval = s.Int(12);
  g.next_cron_time = s.Int(13);
  g.owner = s.Text(14);
  g.ext_data = s.Text(15);
  g.result = s.Text(16);
  g.rollback_reason = s.Text(17);
  return g;
}

void BindGlobal(Stmt& s, const TransGlobal& g) {
  s.Bind(1, g.gid);
  s.Bind(2, g.trans_type);
  s.Bind(3, g.status);
  s.Bind(4, g.query_prepared);
  s.Bind(5, g.protocol);
  s.BindTime(6, g.create_time);
  s.BindTime(7, g.update_time);
  s.BindTime(8, g.finish_time);
  s.BindTime(9, g.rollback_time);
  s.Bind(10, g.options);
  s.Bind(11, g.custom_data);
  s.Bind(12, g.next_cron_interval);
  s.Bind(13, g.next_cron_time);
  s.Bind(14, g.owner);
  s.Bind(15, g.ext_data);
  s.Bind(16, g.result);
  s.Bind(17, g.rollback_reason);
}

TransBranch ReadBranch(const Stmt& s) {
  TransBranch b;
  b.id = s.Int(0);
  b.gid = s.Text(1);
  b.url = s.Text(2);
  b.bin_data = s.Blob(3);
  b.branch_id = s.Text(4);
  b.op = s.Text(5);
  b.status = s.Text(6);
  b.create_time = s.Time(7);
  b.update_time = s.Time(8);
  b.finish_time = s.Time(9);
  b.rollback_time = s.Time(10);
  return b;
}

void BindBranch(Stmt& s, const std::string& gid, const TransBranch& b) {
  s.Bind(1, gid);
  s.Bind(2, b.url);
  s.BindBlob(3, b.bin_data);
  s.Bind(4, b.branch_id);
  s.Bind(5, b.op);
  s.Bind(6, b.status);
  s.BindTime(7, b.create_time);
  s.BindTime(8, b.update_time);
  s.BindTime(9, b.finish_time);
  s.BindTime(10, b.rollback_time);
}

KV ReadKV(const Stmt& s) {
  return KV{s.Int(0), s.Text(1), s.Text(2), s.Text(3), s.Int(4), s.Time(5), s.Time(6)};
}

// Runs `sql` with bind(stmt), calling read(stmt) for every row.
template <class Bind, class Read>
Status Query(SqliteConn& conn, const char* sql, Bind bind, Read read) {
  StatusOr<Stmt> stmt = conn.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  bind(*stmt);
  while (true) {
    StatusOr<bool> row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::Ok();
    read(*stmt);
  }
}

// Runs a write statement and returns the number of rows it changed.
template <class Bind>
StatusOr<int64_t> Write(SqliteConn& conn, const char* sql, Bind bind) {
  StatusOr<Stmt> stmt = conn.Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  bind(*stmt);
  if (Status st = stmt->Run(); !st.ok()) return st;
  return conn.Changes();
}

}  // namespace

namespace {

// A database file that is missing or empty although data was stored here before (the marker, or
// a write-ahead log next to it, says so) must not silently become a new, empty store.
Status CheckExistingData(const SqliteOptions& options) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool exists = fs::exists(options.path, ec);
  const uintmax_t size = exists ? fs::file_size(options.path, ec) : 0;
  const bool had_data = (!options.marker_path.empty() && fs::exists(options.marker_path, ec)) ||
                        fs::exists(options.path + "-wal", ec);
  if (exists && size == 0) {
    return Status::Internal("embedded store " + options.path +
                            " is an empty file (truncated?): restore it from a backup, or "
                            "remove it to start with an empty store");
  }
  if (!exists && had_data) {
    return Status::Internal("embedded store " + options.path +
                            " is missing although this data directory held a store: restore "
                            "it, or remove the directory's remaining files to start empty");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const SqliteOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("sqlite store: empty path");
  if (sqlite3_threadsafe() == 0) {
    return Status::Internal("sqlite store: the SQLite library is built without thread support");
  }
  if (Status st = CheckExistingData(options); !st.ok()) return st;
  auto conn = SqliteConn::Open(options.path, /*read_only=*/false, options.busy_timeout_ms);
  if (!conn.ok()) return conn.status();
  if (options.integrity_check) {
    auto check = (*conn)->QueryColumn("PRAGMA quick_check(5)", 0);
    if (!check.ok() || check->empty() || check->front() != "ok") {
      std::string detail = !check.ok()      ? check.status().message()
                           : check->empty() ? std::string("no result")
                                            : check->front();
      return Status::Internal("embedded store " + options.path + " failed its integrity check (" +
                              detail +
                              "): restore it from a backup; dtmd does not start on a damaged "
                              "store");
    }
  }
  auto mode = (*conn)->QueryColumn("PRAGMA journal_mode=WAL", 0);
  if (!mode.ok()) return mode.status();
  if (mode->empty() || mode->front() != "wal") {
    return Status::Internal("sqlite store: cannot switch " + options.path + " to WAL mode");
  }
  // FULL fsyncs the WAL on every commit; NORMAL only at checkpoints (survives kill -9, not a
  // power cut). The size limit truncates the WAL after checkpoints instead of letting it grow.
  const char* pragmas = options.fsync
                            ? "PRAGMA synchronous=FULL; PRAGMA journal_size_limit=67108864;"
                            : "PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=67108864;";
  if (Status st = (*conn)->Exec(pragmas); !st.ok()) return st;

  std::unique_ptr<SqliteStore> store(new SqliteStore());
  store->writer_ =
      std::make_unique<GroupCommitWriter>(std::move(*conn), static_cast<size_t>(options.max_batch));
  // The schema must exist before the read-only connections prepare statements against it.
  if (Status st = store->PopulateSchema(); !st.ok()) return st;
  if (!options.marker_path.empty() && !std::filesystem::exists(options.marker_path)) {
    std::ofstream marker(options.marker_path);
    marker << "dtmd embedded store: " << std::filesystem::path(options.path).filename().string()
           << "\n";
    if (!marker.flush()) {
      return Status::Internal("embedded store: cannot write " + options.marker_path);
    }
  }
  std::vector<std::unique_ptr<SqliteConn>> readers;
  for (int i = 0; i < std::max(1, options.read_connections); ++i) {
    auto reader = SqliteConn::Open(options.path, /*read_only=*/true, options.busy_timeout_ms);
    if (!reader.ok()) return reader.status();
    readers.push_back(std::move(*reader));
  }
  store->readers_ = std::make_unique<ConnPool>(std::move(readers));
  return store;
}

SqliteStore::~SqliteStore() {
  // Readers first: the last connection to close (the writer) checkpoints and removes the WAL.
  readers_.reset();
  writer_.reset();
}

uint64_t SqliteStore::writes() const { return writer_->writes(); }
uint64_t SqliteStore::commits() const { return writer_->commits(); }

Status SqliteStore::Ping() {
  auto conn = readers_->Acquire();
  return Query(
      *conn, kPing, [](Stmt&) {}, [](const Stmt&) {});
}

Status SqliteStore::PopulateSchema() {
  return writer_->Run([](SqliteConn& c) { return c.Exec(kSchema); });
}

StatusOr<std::optional<TransGlobal>> SqliteStore::FindGlobal(const std::string& gid) {
  std::optional<TransGlobal> out;
  auto conn = readers_->Acquire();
  Status st = Query(
      *conn, kFindGlobal, [&](Stmt& s) { s.Bind(1, gid); },
      [&](const Stmt& s) { out = ReadGlobal(s); });
  if (!st.ok()) return st;
  return out;
}

Status SqliteStore::ScanGlobals(std::string* position, int64_t limit, const ScanCondition& cond,
                                std::vector<TransGlobal>* out) {
  int64_t before = 0;
  if (Status st = StartPage(*position, limit, std::numeric_limits<int64_t>::max(), &before);
      !st.ok())
    return st;
  out->clear();
  auto conn = readers_->Acquire();
  Status st = Query(
      *conn, kScanGlobals,
      [&](Stmt& s) {
        s.Bind(1, before);
        s.Bind(2, cond.status);
        s.Bind(3, cond.trans_type);
        s.Bind(4, cond.create_time_start);
        s.Bind(5, cond.create_time_end);
        s.Bind(6, limit);
        s.Bind(7, cond.gid_prefix);
        s.Bind(8, cond.overdue_before);
      },
      [&](const Stmt& s) { out->push_back(ReadGlobal(s)); });
  if (!st.ok()) return st;
  *position = NextCursor(out->size(), limit, out->empty() ? 0 : out->back().id);
  return Status::Ok();
}

StatusOr<std::vector<TransBranch>> SqliteStore::FindBranches(const std::string& gid) {
  std::vector<TransBranch> out;
  auto conn = readers_->Acquire();
  Status st = Query(
      *conn, kFindBranches, [&](Stmt& s) { s.Bind(1, gid); },
      [&](const Stmt& s) { out.push_back(ReadBranch(s)); });
  if (!st.ok()) return st;
  return out;
}

// The three writes on every transaction's path are an operation for the writer plus what follows
// its commit, shared by the blocking form (Run) and the completion form (RunAsync, no thread
// waits: the engine resumes from the writer's callback).

SqliteStore::WriteOp SqliteStore::SaveNewOp(TransGlobal& global,
                                            std::vector<TransBranch>& branches) {
  auto ids = std::make_shared<std::vector<int64_t>>();  // the global's id, then the branches'
  WriteOp w;
  w.op = [&global, &branches, ids](SqliteConn& c) -> Status {
    ids->clear();
    auto inserted = Write(c, kInsertGlobal, [&](Stmt& s) { BindGlobal(s, global); });
    if (!inserted.ok()) return inserted.status();
    if (*inserted == 0) return Status::UniqueConflict("gid exists: " + global.gid);
    ids->push_back(c.LastInsertRowId());
    for (const auto& b : branches) {
      // A duplicate (branch_id, op) fails with kUniqueConflict; the savepoint undoes the global.
      auto n = Write(c, kInsertBranch, [&](Stmt& s) { BindBranch(s, global.gid, b); });
      if (!n.ok()) return n.status();
      ids->push_back(c.LastInsertRowId());
    }
    return Status::Ok();
  };
  w.then = [&global, &branches, ids](Status st) {
    if (!st.ok()) return st;
    global.id = (*ids)[0];
    for (size_t i = 0; i < branches.size(); ++i) branches[i].id = (*ids)[i + 1];
    return Status::Ok();
  };
  return w;
}

SqliteStore::WriteOp SqliteStore::SaveBranchesOp(const std::string& gid,
                                                 const std::string& expected_status,
                                                 const std::vector<TransBranch>& rows,
                                                 bool append) {
  // Running on the writer serialises this with every status CAS, like DTM's SELECT FOR UPDATE.
  WriteOp w;
  w.op = [&gid, &expected_status, &rows, append](SqliteConn& c) -> Status {
    bool found = false;
    Status st = Query(
        c, kGlobalHasStatus,
        [&](Stmt& s) {
          s.Bind(1, gid);
          s.Bind(2, expected_status);
        },
        [&](const Stmt&) { found = true; });
    if (!st.ok()) return st;
    if (!found) return NoTrans(gid, expected_status);
    const char* sql = append ? kInsertBranch : kUpsertBranch;
    for (const auto& r : rows) {
      auto n = Write(c, sql, [&](Stmt& s) { BindBranch(s, gid, r); });
      if (!n.ok()) return n.status();
    }
    return Status::Ok();
  };
  return w;
}

SqliteStore::WriteOp SqliteStore::ChangeStatusOp(const std::string& gid,
                                                 const std::string& old_status,
                                                 const StatusChange& change) {
  WriteOp w;
  w.op = [&gid, &old_status, &change](SqliteConn& c) -> Status {
    const std::string unset;  // bound (and ignored) for an absent optional column
    auto n = Write(c, kChangeStatus, [&](Stmt& s) {
      s.Bind(1, change.new_status);
      s.Bind(2, change.now);
      s.Bind(3, change.rollback_reason.has_value());
      s.Bind(4, change.rollback_reason ? *change.rollback_reason : unset);
      s.Bind(5, change.result.has_value());
      s.Bind(6, change.result ? *change.result : unset);
      s.Bind(7, gid);
      s.Bind(8, old_status);
    });
    if (!n.ok()) return n.status();
    return *n == 0 ? NoTrans(gid, old_status) : Status::Ok();
  };
  return w;
}

// The status change first: it checks the old status (nothing written when it differs); a
// failing upsert then rolls the change back with the operation's savepoint.
SqliteStore::WriteOp SqliteStore::SaveBranchesChangeStatusOp(const std::string& gid,
                                                             const std::string& old_status,
                                                             const std::vector<TransBranch>& rows,
                                                             const StatusChange& change) {
  WriteOp w;
  w.op = [change_op = ChangeStatusOp(gid, old_status, change).op, &gid, &rows](SqliteConn& c) {
    if (Status st = change_op(c); !st.ok()) return st;
    for (const auto& r : rows) {
      auto n = Write(c, kUpsertBranch, [&](Stmt& s) { BindBranch(s, gid, r); });
      if (!n.ok()) return n.status();
    }
    return Status::Ok();
  };
  return w;
}

Status SqliteStore::RunWrite(WriteOp w) {
  Status st = writer_->Run(w.op);
  return w.then ? w.then(std::move(st)) : st;
}

void SqliteStore::RunWriteAsync(WriteOp w, Completion<Status> done) {
  writer_->RunAsync(std::move(w.op), [then = std::move(w.then), done = std::move(done)](Status st) {
    done(then ? then(std::move(st)) : std::move(st));
  });
}

Status SqliteStore::MaySaveNewTrans(TransGlobal& global, std::vector<TransBranch>& branches) {
  return RunWrite(SaveNewOp(global, branches));
}

bool SqliteStore::MaySaveNewTransAsync(TransGlobal& global, std::vector<TransBranch>& branches,
                                       Completion<Status> done) {
  RunWriteAsync(SaveNewOp(global, branches), std::move(done));
  return true;
}

Status SqliteStore::LockGlobalSaveBranches(const std::string& gid,
                                           const std::string& expected_status,
                                           const std::vector<TransBranch>& rows, bool append) {
  return RunWrite(SaveBranchesOp(gid, expected_status, rows, append));
}

bool SqliteStore::LockGlobalSaveBranchesAsync(const std::string& gid,
                                              const std::string& expected_status,
                                              const std::vector<TransBranch>& rows, bool append,
                                              Completion<Status> done) {
  RunWriteAsync(SaveBranchesOp(gid, expected_status, rows, append), std::move(done));
  return true;
}

Status SqliteStore::ChangeGlobalStatus(const std::string& gid, const std::string& old_status,
                                       const StatusChange& change) {
  return RunWrite(ChangeStatusOp(gid, old_status, change));
}

bool SqliteStore::ChangeGlobalStatusAsync(const std::string& gid, const std::string& old_status,
                                          const StatusChange& change, Completion<Status> done) {
  RunWriteAsync(ChangeStatusOp(gid, old_status, change), std::move(done));
  return true;
}

Status SqliteStore::SaveBranchesChangeStatus(const std::string& gid, const std::string& old_status,
                                             const std::vector<TransBranch>& rows,
                                             const StatusChange& change) {
  return RunWrite(SaveBranchesChangeStatusOp(gid, old_status, rows, change));
}

bool SqliteStore::SaveBranchesChangeStatusAsync(const std::string& gid,
                                                const std::string& old_status,
                                                const std::vector<TransBranch>& rows,
                                                const StatusChange& change,
                                                Completion<Status> done) {
  RunWriteAsync(SaveBranchesChangeStatusOp(gid, old_status, rows, change), std::move(done));
  return true;
}

Status SqliteStore::TouchCronTime(const std::string& gid, const std::string& expected_status,
                                  int64_t interval_s, UnixMs next_cron_time, UnixMs now) {
  return writer_->Run([&](SqliteConn& c) -> Status {
    auto n = Write(c, kTouchCron, [&](Stmt& s) {
      s.Bind(1, interval_s);
      s.Bind(2, next_cron_time);
      s.Bind(3, now);
      s.Bind(4, gid);
      s.Bind(5, expected_status);
    });
    if (!n.ok()) return n.status();
    return *n == 0 ? NoTrans(gid, expected_status) : Status::Ok();
  });
}

StatusOr<std::optional<TransGlobal>> SqliteStore::LockOneGlobalTrans(UnixMs now,
                                                                     int64_t expire_in_ms,
                                                                     int64_t lease_s,
                                                                     const std::string& owner) {
  std::optional<TransGlobal> leased;
  Status st = writer_->Run([&](SqliteConn& c) -> Status {
    leased.reset();
    return Query(
        c, kLease,
        [&](Stmt& s) {
          s.Bind(1, now + lease_s * 1000);
          s.Bind(2, owner);
          s.Bind(3, now);
          s.Bind(4, now + expire_in_ms);
        },
        [&](const Stmt& s) { leased = ReadGlobal(s); });
  });
  if (!st.ok()) return st;
  return leased;
}

StatusOr<ResetCronResult> SqliteStore::ResetCronTime(UnixMs now, int64_t after_ms, int64_t limit) {
  if (limit <= 0) return Status::InvalidArgument("limit must be positive");
  ResetCronResult result;
  Status st = writer_->Run([&](SqliteConn& c) -> Status {
    // limit + 1 candidates make has_remaining exact without a second, counting query.
    std::vector<int64_t> ids;
    Status q = Query(
        c, kResetCandidates,
        [&](Stmt& s) {
          s.Bind(1, now + after_ms);
          s.Bind(2, limit + 1);
        },
        [&](const Stmt& s) { ids.push_back(s.Int(0)); });
    if (!q.ok()) return q;
    result.has_remaining = static_cast<int64_t>(ids.size()) > limit;
    if (result.has_remaining) ids.pop_back();
    for (int64_t id : ids) {
      auto n = Write(c, kResetById, [&](Stmt& s) {
        s.Bind(1, now);
        s.Bind(2, id);
      });
      if (!n.ok()) return n.status();
    }
    result.succeed_count = static_cast<int64_t>(ids.size());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return result;
}

Status SqliteStore::ResetTransGlobalCronTime(const std::string& gid, UnixMs now) {
  return writer_->Run([&](SqliteConn& c) -> Status {
    auto n = Write(c, kResetByGid, [&](Stmt& s) {
      s.Bind(1, now);
      s.Bind(2, gid);
    });
    if (!n.ok()) return n.status();
    return *n == 0 ? Status::NotFound("no trans with gid: " + gid) : Status::Ok();
  });
}

Status SqliteStore::ScanKV(const std::string& cat, std::string* position, int64_t limit,
                           std::vector<KV>* out) {
  int64_t after = 0;
  if (Status st = StartPage(*position, limit, 0, &after); !st.ok()) return st;
  out->clear();
  auto conn = readers_->Acquire();
  Status st = Query(
      *conn, kScanKV,
      [&](Stmt& s) {
        s.Bind(1, cat);
        s.Bind(2, after);
        s.Bind(3, limit);
      },
      [&](const Stmt& s) { out->push_back(ReadKV(s)); });
  if (!st.ok()) return st;
  *position = NextCursor(out->size(), limit, out->empty() ? 0 : out->back().id);
  return Status::Ok();
}

StatusOr<std::vector<KV>> SqliteStore::FindKV(const std::string& cat, const std::string& key) {
  std::vector<KV> out;
  auto conn = readers_->Acquire();
  Status st = Query(
      *conn, key.empty() ? kFindKVCat : kFindKV,
      [&](Stmt& s) {
        s.Bind(1, cat);
        if (!key.empty()) s.Bind(2, key);
      },
      [&](const Stmt& s) { out.push_back(ReadKV(s)); });
  if (!st.ok()) return st;
  return out;
}

Status SqliteStore::CreateKV(const std::string& cat, const std::string& k, const std::string& v,
                             UnixMs now) {
  return writer_->Run([&](SqliteConn& c) -> Status {
    auto n = Write(c, kCreateKV, [&](Stmt& s) {
      s.Bind(1, cat);
      s.Bind(2, k);
      s.Bind(3, v);
      s.Bind(4, now);
    });
    if (!n.ok()) return n.status();
    return *n == 0 ? Status::UniqueConflict("kv exists: " + cat + "/" + k) : Status::Ok();
  });
}

Status SqliteStore::UpdateKV(KV& kv, UnixMs now) {
  Status st = writer_->Run([&](SqliteConn& c) -> Status {
    auto n = Write(c, kUpdateKV, [&](Stmt& s) {
      s.Bind(1, kv.v);
      s.Bind(2, now);
      s.Bind(3, kv.cat);
      s.Bind(4, kv.k);
      s.Bind(5, kv.version);
    });
    if (!n.ok()) return n.status();
    return *n == 0 ? Status::NotFound("kv " + kv.cat + "/" + kv.k + " absent or version mismatch")
                   : Status::Ok();
  });
  if (st.ok()) ++kv.version;
  return st;
}

Status SqliteStore::DeleteKV(const std::string& cat, const std::string& k) {
  return writer_->Run([&](SqliteConn& c) -> Status {
    auto n = Write(c, kDeleteKV, [&](Stmt& s) {
      s.Bind(1, cat);
      s.Bind(2, k);
    });
    if (!n.ok()) return n.status();
    return *n == 0 ? Status::NotFound("kv " + cat + "/" + k) : Status::Ok();
  });
}

StatusOr<std::string> SqliteStore::CronQueryPlan() {
  std::string plan;
  Status st = writer_->Run([&](SqliteConn& c) -> Status {
    for (const char* sql : {kLease, kResetCandidates}) {
      auto rows = c.QueryColumn(std::string("EXPLAIN QUERY PLAN ") + sql, 3);
      if (!rows.ok()) return rows.status();
      for (const auto& r : *rows) plan += r + "\n";
    }
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return plan;
}

Status SqliteStore::AddAttempts(const std::vector<BranchAttempt>& rows, int64_t keep) {
  return writer_->Run([&](SqliteConn& c) -> Status {
    if (next_attempt_id_ == 0) {
      Status q = Query(
          c, kMaxAttemptId, [](Stmt&) {}, [&](const Stmt& s) { next_attempt_id_ = s.Int(0) + 1; });
      if (!q.ok()) return q;
    }
    std::set<std::tuple<std::string, std::string, std::string>> keys;
    // Row `a` at parameter offset `base` (0 for kInsertAttempt).
    auto bind = [this](Stmt& s, int base, const BranchAttempt& a) {
      s.Bind(base + 1, a.gid);
      s.Bind(base + 2, a.branch_id);
      s.Bind(base + 3, a.op);
      s.Bind(base + 4, a.start_time);
      s.Bind(base + 5, a.duration_ms);
      s.Bind(base + 6, a.target);
      s.Bind(base + 7, a.outcome);
      s.Bind(base + 8, a.code);
      s.Bind(base + 9, a.detail);
      s.Bind(base + 10, a.owner);
      s.Bind(base + 11, next_attempt_id_++);  // ids of a rolled-back batch are skipped
    };
    size_t i = 0;
    for (; i + kAttemptChunk <= rows.size(); i += kAttemptChunk) {
      auto n = Write(c, InsertAttemptsChunk(), [&](Stmt& s) {
        for (int r = 0; r < kAttemptChunk; ++r) bind(s, r * kAttemptColumns, rows[i + r]);
      });
      if (!n.ok()) return n.status();
    }
    for (; i < rows.size(); ++i) {
      auto n = Write(c, kInsertAttempt, [&](Stmt& s) { bind(s, 0, rows[i]); });
      if (!n.ok()) return n.status();
    }
    for (const auto& a : rows) {
      if (!a.final) keys.emplace(a.gid, a.branch_id, a.op);
    }
    for (const auto& [gid, branch_id, op] : keys) {
      auto n = Write(c, kTrimAttempts, [&](Stmt& s) {
        s.Bind(1, gid);
        s.Bind(2, branch_id);
        s.Bind(3, op);
        s.Bind(4, keep);
      });
      if (!n.ok()) return n.status();
    }
    return Status::Ok();
  });
}

StatusOr<std::vector<BranchAttempt>> SqliteStore::FindAttempts(const std::string& gid) {
  std::vector<BranchAttempt> out;
  auto conn = readers_->Acquire();
  Status st = Query(
      *conn, kFindAttempts, [&](Stmt& s) { s.Bind(1, gid); },
      [&](const Stmt& s) {
        BranchAttempt a;
        a.id = s.Int(0);
        a.gid = s.Text(1);
        a.branch_id = s.Text(2);
        a.op = s.Text(3);
        a.start_time = s.Int(4);
        a.duration_ms = s.Int(5);
        a.target = s.Text(6);
        a.outcome = s.Text(7);
        a.code = s.Int(8);
        a.detail = s.Text(9);
        a.owner = s.Text(10);
        out.push_back(std::move(a));
      });
  if (!st.ok()) return st;
  return out;
}

StatusOr<int64_t> SqliteStore::PurgeFinished(UnixMs before, int64_t limit) {
  if (limit <= 0) return Status::InvalidArgument("limit must be positive");
  int64_t purged = 0;
  Status st = writer_->Run([&](SqliteConn& c) -> Status {
    purged = 0;
    std::vector<std::pair<int64_t, std::string>> doomed;
    Status q = Query(
        c, kPurgeCandidates,
        [&](Stmt& s) {
          s.Bind(1, before);
          s.Bind(2, limit);
        },
        [&](const Stmt& s) { doomed.emplace_back(s.Int(0), s.Text(1)); });
    if (!q.ok()) return q;
    for (const auto& [id, gid] : doomed) {
      auto b = Write(c, kDeleteBranches, [&](Stmt& s) { s.Bind(1, gid); });
      if (!b.ok()) return b.status();
      auto a = Write(c, kDeleteAttempts, [&](Stmt& s) { s.Bind(1, gid); });
      if (!a.ok()) return a.status();
      auto g = Write(c, kDeleteGlobal, [&](Stmt& s) { s.Bind(1, id); });
      if (!g.ok()) return g.status();
    }
    purged = static_cast<int64_t>(doomed.size());
    return Status::Ok();
  });
  if (!st.ok()) return st;
  return purged;
}

}  // namespace lynx::store
