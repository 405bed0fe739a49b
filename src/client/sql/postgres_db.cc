// SqlDb over one libpq connection. Statements with parameters go through PQexecParams with text
// parameters of unspecified type, so PostgreSQL infers each from its use (`balance - $1`).
#include <libpq-fe.h>

#include <memory>
#include <utility>

#include "client/sql/sql_drivers.h"
#include "common/pg_status.h"

namespace lynx::dtm::internal {
namespace {

struct ResultCloser {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultCloser>;

class PostgresDb final : public SqlDb {
 public:
  explicit PostgresDb(PGconn* conn) : conn_(conn) {}
  ~PostgresDb() override { PQfinish(conn_); }

  SqlDriver driver() const override { return SqlDriver::kPostgres; }

  Status Exec(const std::string& sql) override {
    ResultPtr r(PQexec(conn_, sql.c_str()));
    return Check(r.get(), sql);
  }

  StatusOr<int64_t> Execute(const std::string& sql,
                            const std::vector<std::string>& params) override {
    ResultPtr r;
    if (Status st = Run(sql, params, &r); !st.ok()) return st;
    const char* affected = PQcmdTuples(r.get());
    return affected[0] == '\0' ? int64_t{0} : std::stoll(affected);
  }

  StatusOr<SqlRows> Query(const std::string& sql, const std::vector<std::string>& params) override {
    ResultPtr r;
    if (Status st = Run(sql, params, &r); !st.ok()) return st;
    SqlRows rows;
    const int n = PQntuples(r.get());
    const int cols = PQnfields(r.get());
    rows.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      SqlRow row;
      row.reserve(static_cast<size_t>(cols));
      for (int c = 0; c < cols; ++c) {
        row.emplace_back(PQgetisnull(r.get(), i, c) ? "" : PQgetvalue(r.get(), i, c));
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  bool InTransaction() const override { return PQtransactionStatus(conn_) != PQTRANS_IDLE; }

 private:
  Status Run(const std::string& sql, const std::vector<std::string>& params, ResultPtr* out) {
    size_t count = 0;
    std::string text = RewritePlaceholders(
        sql, [](size_t i) { return "$" + std::to_string(i + 1); }, &count, false);
    if (Status st = CheckParamCount(sql, count, params.size()); !st.ok()) return st;
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& p : params) values.push_back(p.c_str());
    out->reset(PQexecParams(conn_, text.c_str(), static_cast<int>(values.size()), nullptr,
                            values.data(), nullptr, nullptr, 0));
    return Check(out->get(), sql);
  }

  // Ok for a successful result; else the server's message with its SQLSTATE. A lost connection
  // is Unavailable, a unique violation (23505) UniqueConflict, anything else Internal.
  Status Check(PGresult* r, const std::string& sql) const {
    auto failure = PgResultFailure(conn_, r, "postgres", sql);
    if (!failure) return Status::Ok();
    if (failure->connection_lost) return Status::Unavailable(std::move(failure->text));
    if (failure->sqlstate == "23505") {
      return Status(StatusCode::kUniqueConflict, std::move(failure->text));
    }
    return Status::Internal(std::move(failure->text));
  }

  PGconn* conn_;
};

}  // namespace

StatusOr<std::unique_ptr<SqlDb>> OpenPostgres(const DBConf& conf) {
  std::string info = "host=" + PgConnValue(conf.host) +
                     " port=" + std::to_string(conf.port != 0 ? conf.port : 5432) +
                     " connect_timeout=10";
  if (!conf.user.empty()) info += " user=" + PgConnValue(conf.user);
  if (!conf.password.empty()) info += " password=" + PgConnValue(conf.password);
  if (!conf.db.empty()) info += " dbname=" + PgConnValue(conf.db);
  if (!conf.schema.empty()) info += " options=" + PgConnValue("-c search_path=" + conf.schema);
  PGconn* conn = PQconnectdb(info.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    PQfinish(conn);
    return Status::Unavailable("postgres: cannot connect to " + conf.host + ":" +
                               std::to_string(conf.port) + ": " + message);
  }
  // Notices ("relation already exists, skipping") are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return std::unique_ptr<SqlDb>(new PostgresDb(conn));
}

}  // namespace lynx::dtm::internal
