#include <map>
#include <mutex>
#include <tuple>
#include <utility>
#include <vector>

#include "client/sql/sql_drivers.h"

namespace lynx::dtm {

Status SqlDb::Begin() { return Exec("BEGIN"); }

StatusOr<std::unique_ptr<SqlDb>> OpenSqlDb(const DBConf& conf) {
  if (conf.driver == "sqlite" || conf.driver == "sqlite3") return internal::OpenSqlite(conf);
  if (conf.driver == "postgres" || conf.driver == "postgresql") {
    return internal::OpenPostgres(conf);
  }
  if (conf.driver == "mysql" || conf.driver == "mariadb") return internal::OpenMysql(conf);
  return Status::InvalidArgument("DBConf.driver '" + conf.driver +
                                 "' is not one of sqlite, postgres, mysql");
}

struct SqlDbPool::State {
  DBConf conf;
  size_t max_idle;
  std::mutex mu;
  std::vector<std::unique_ptr<SqlDb>> idle;

  // A lease's end: the connection goes back when it is clean and there is room.
  void Return(SqlDb* db) {
    std::unique_ptr<SqlDb> owned(db);
    if (owned->InTransaction()) return;  // closing the connection rolls the transaction back
    std::lock_guard lock(mu);
    if (idle.size() < max_idle) idle.push_back(std::move(owned));
  }
};

SqlDbPool::SqlDbPool(DBConf conf, size_t max_idle) : state_(std::make_shared<State>()) {
  state_->conf = std::move(conf);
  state_->max_idle = max_idle;
}

SqlDbPool::~SqlDbPool() = default;

const DBConf& SqlDbPool::conf() const { return state_->conf; }

StatusOr<SqlDbPool::Lease> SqlDbPool::Acquire() {
  std::unique_ptr<SqlDb> db;
  {
    std::lock_guard lock(state_->mu);
    if (!state_->idle.empty()) {
      db = std::move(state_->idle.back());
      state_->idle.pop_back();
    }
  }
  if (!db) {
    auto opened = OpenSqlDb(state_->conf);
    if (!opened.ok()) return opened.status();
    db = std::move(*opened);
  }
  // The deleter keeps the pool state alive, so a lease may outlive the SqlDbPool object.
  std::shared_ptr<State> state = state_;
  return Lease(db.release(), [state](SqlDb* d) { state->Return(d); });
}

SqlDbPool& SharedSqlDbPool(const DBConf& conf) {
  using Key = std::tuple<std::string, std::string, int64_t, std::string, std::string, std::string,
                         std::string>;
  static std::mutex mu;
  static auto* pools = new std::map<Key, std::unique_ptr<SqlDbPool>>();  // lives until exit
  Key key{conf.driver, conf.host, conf.port, conf.user, conf.password, conf.db, conf.schema};
  std::lock_guard lock(mu);
  auto& pool = (*pools)[key];
  if (!pool) pool = std::make_unique<SqlDbPool>(conf);
  return *pool;
}

}  // namespace lynx::dtm
