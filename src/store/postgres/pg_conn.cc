#include "store/postgres/pg_conn.h"

#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

#include "common/pg_status.h"

namespace lynx::store::pg {

PgParams& PgParams::Push(std::string v, bool null, int format) {
  values_.push_back(std::move(v));
  nulls_.push_back(null);
  lengths_.push_back(static_cast<int>(values_.back().size()));
  formats_.push_back(format);
  // Rebuilt each time: growing values_ moves the strings (and short strings' buffers with them).
  ptrs_.clear();
  for (size_t i = 0; i < values_.size(); ++i) {
    ptrs_.push_back(nulls_[i] ? nullptr : values_[i].c_str());
  }
  return *this;
}

PgParams& PgParams::Text(std::string v) { return Push(std::move(v), false, 0); }
PgParams& PgParams::Bytes(std::string v) { return Push(std::move(v), false, 1); }
PgParams& PgParams::Null() { return Push("", true, 0); }

PgParams& PgParams::Time(UnixMs v, bool zero_is_null) {
  if (v == 0 && zero_is_null) return Null();
  // An explicit +00 offset makes the value independent of the session's TimeZone.
  int64_t secs = v / 1000;
  int64_t ms = v % 1000;
  if (ms < 0) {
    ms += 1000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  std::string s(buf, n);
  char frac[8];
  snprintf(frac, sizeof(frac), ".%03d+00", static_cast<int>(ms));
  return Push(s + frac, false, 0);
}

int64_t PgResult::Affected() const {
  const char* n = PQcmdTuples(r_.get());
  int64_t out = 0;
  std::from_chars(n, n + strlen(n), out);
  return out;
}

std::string PgResult::Text(int row, int col) const {
  if (IsNull(row, col)) return "";
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<size_t>(PQgetlength(r_.get(), row, col)));
}

int64_t PgResult::Int(int row, int col) const {
  if (IsNull(row, col)) return 0;
  const char* v = PQgetvalue(r_.get(), row, col);
  int64_t out = 0;
  std::from_chars(v, v + PQgetlength(r_.get(), row, col), out);
  return out;
}

std::string PgResult::Bytes(int row, int col) const {
  if (IsNull(row, col)) return "";
  size_t n = 0;
  unsigned char* raw =
      PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)), &n);
  if (raw == nullptr) return "";
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

StatusOr<std::unique_ptr<PgConn>> PgConn::Connect(const std::string& conninfo) {
  PGconn* conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    PQfinish(conn);
    return Status::Unavailable("postgres store: cannot connect: " + message);
  }
  // Notices ("relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<PgConn>(new PgConn(conn));
}

PgConn::~PgConn() { PQfinish(conn_); }

bool PgConn::Broken() const {
  return PQstatus(conn_) != CONNECTION_OK || PQtransactionStatus(conn_) != PQTRANS_IDLE;
}

std::string PgConn::QuoteIdentifier(const std::string& name) const {
  char* q = PQescapeIdentifier(conn_, name.data(), name.size());
  if (q == nullptr) return "\"\"";
  std::string out(q);
  PQfreemem(q);
  return out;
}

Status PgConn::Exec(const std::string& sql) {
  PGresult* r = PQexec(conn_, sql.c_str());
  Status st = Check(r, sql);
  PQclear(r);
  return st;
}

StatusOr<PgResult> PgConn::Run(const char* sql, const PgParams& params) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "lynx_" + std::to_string(prepared_.size());
    PGresult* r = PQprepare(conn_, name.c_str(), sql, 0, nullptr);
    Status st = Check(r, sql);
    PQclear(r);
    if (!st.ok()) return st;
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  PGresult* r = PQexecPrepared(conn_, it->second.c_str(), params.size(), params.values(),
                               params.lengths(), params.formats(), 0);
  if (Status st = Check(r, sql); !st.ok()) {
    PQclear(r);
    return st;
  }
  return PgResult(r);
}

// A lost connection is kUnavailable (the caller may retry elsewhere), and so are serialization
// failures and deadlocks (40001, 40P01: retrying the whole operation succeeds); a unique
// violation (23505) is kUniqueConflict; anything else kInternal.
Status CheckResult(PGconn* conn, PGresult* r, const std::string& what) {
  auto failure = PgResultFailure(conn, r, "postgres store", what);
  if (!failure) return Status::Ok();
  const std::string& code = failure->sqlstate;
  if (failure->connection_lost || code == "40001" || code == "40P01" || code.rfind("08", 0) == 0) {
    return Status::Unavailable(std::move(failure->text));
  }
  if (code == "23505") return Status::UniqueConflict(std::move(failure->text));
  return Status::Internal(std::move(failure->text));
}

Status PgConn::Check(PGresult* r, const std::string& what) const {
  return CheckResult(conn_, r, what);
}

PgPool::PgPool(std::string conninfo, size_t max_conns, std::chrono::seconds max_life)
    : conninfo_(std::move(conninfo)),
      max_conns_(max_conns < 1 ? 1 : max_conns),
      max_life_(max_life) {}

StatusOr<PgPool::Lease> PgPool::Acquire() {
  {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !idle_.empty() || open_ < max_conns_; });
    if (!idle_.empty()) {
      std::unique_ptr<PgConn> conn = std::move(idle_.back());
      idle_.pop_back();
      return Lease(this, std::move(conn));
    }
    ++open_;  // reserved while connecting, outside the lock
  }
  auto conn = PgConn::Connect(conninfo_);
  if (!conn.ok()) {
    std::lock_guard lock(mu_);
    --open_;
    cv_.notify_one();
    return conn.status();
  }
  return Lease(this, std::move(*conn));
}

void PgPool::Release(std::unique_ptr<PgConn> conn) {
  std::vector<std::unique_ptr<PgConn>> closing;  // closed outside the lock
  {
    std::lock_guard lock(mu_);
    if (conn->Broken()) {
      closing.push_back(std::move(conn));
      for (auto& c : idle_) closing.push_back(std::move(c));
      open_ -= closing.size();
      idle_.clear();
      cv_.notify_all();
    } else if (max_life_.count() > 0 &&
               std::chrono::steady_clock::now() - conn->opened() >= max_life_) {
      closing.push_back(std::move(conn));
      --open_;
      cv_.notify_one();
    } else {
      idle_.push_back(std::move(conn));
      cv_.notify_one();
    }
  }
}

}  // namespace lynx::store::pg
