#include "account_service.h"

#include <charconv>

namespace lynx::example {

namespace dtm = lynx::dtm;

namespace {

constexpr int64_t kRedisBarrierExpireSeconds = 7 * 24 * 3600;

std::string RedisKey(int user_id) { return "lynx-account-" + std::to_string(user_id); }

StatusOr<int64_t> ToInt(const std::string& text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return Status::Internal("not an integer: '" + text + "'");
  }
  return v;
}

}  // namespace

AccountService::AccountService(dtm::DBConf conf, const dtm::ClientMetrics* metrics)
    : conf_(std::move(conf)), metrics_(metrics) {}

Status AccountService::Init() {
  if (conf_.driver == "mysql" && !conf_.db.empty()) {
    dtm::DBConf server = conf_;
    server.db = "";
    auto db = dtm::OpenSqlDb(server);
    if (!db.ok()) return db.status();
    if (Status st = (*db)->Exec("CREATE DATABASE IF NOT EXISTS " + conf_.db); !st.ok()) return st;
  }
  pool_ = std::make_unique<dtm::SqlDbPool>(conf_);
  barrier_ = std::make_unique<dtm::BarrierHandler>(*pool_, metrics_);
  auto db = pool_->Acquire();
  if (!db.ok()) return db.status();
  if (Status st = dtm::CreateBarrierTable(**db); !st.ok()) return st;
  return (*db)->Exec(
      "CREATE TABLE IF NOT EXISTS user_account (user_id BIGINT PRIMARY KEY, "
      "balance BIGINT NOT NULL, trading_balance BIGINT NOT NULL DEFAULT 0)");
}

Status AccountService::SetBalances(const std::map<int, int64_t>& balances) {
  auto db = pool_->Acquire();
  if (!db.ok()) return db.status();
  // Delete + insert in one transaction: portable (MySQL's UPDATE counts changed rows only, so an
  // update-else-insert would insert twice when a balance is already right).
  if (Status st = (*db)->Begin(); !st.ok()) return st;
  for (const auto& [user, balance] : balances) {
    const std::string id = std::to_string(user);
    auto deleted = (*db)->Execute("DELETE FROM user_account WHERE user_id = ?", {id});
    if (!deleted.ok()) return deleted.status();  // the lease's end rolls back
    auto inserted = (*db)->Execute(
        "INSERT INTO user_account (user_id, balance, trading_balance) VALUES (?, ?, 0)",
        {id, std::to_string(balance)});
    if (!inserted.ok()) return inserted.status();
  }
  return (*db)->Commit();
}

StatusOr<int64_t> AccountService::Balance(int user_id) {
  auto db = pool_->Acquire();
  if (!db.ok()) return db.status();
  auto rows =
      (*db)->Query("SELECT balance FROM user_account WHERE user_id = ?", {std::to_string(user_id)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound("no account " + std::to_string(user_id));
  return ToInt((*rows)[0][0]);
}

StatusOr<int64_t> AccountService::Frozen(int user_id) {
  auto db = pool_->Acquire();
  if (!db.ok()) return db.status();
  auto rows = (*db)->Query("SELECT trading_balance FROM user_account WHERE user_id = ?",
                           {std::to_string(user_id)});
  if (!rows.ok()) return rows.status();
  if (rows->empty()) return Status::NotFound("no account " + std::to_string(user_id));
  return ToInt((*rows)[0][0]);
}

StatusOr<AccountService::Transfer> AccountService::Parse(const dtm::BranchRequest& req,
                                                         int default_user) const {
  auto body = req.JsonBody();
  if (!body.ok()) return body.status();
  if (!body->is_object() || !(*body)["amount"].is_number_integer()) {
    // A malformed request will not get better by retrying: FAILURE rolls the transaction back.
    return Status::Failure("body must be an object with an integer amount: " + req.body);
  }
  Transfer t{default_user, (*body)["amount"].get<int64_t>()};
  if (body->contains("user_id") && (*body)["user_id"].is_number_integer()) {
    t.user_id = (*body)["user_id"].get<int>();
  }
  if (t.amount < 0) return Status::Failure("amount must not be negative");
  return t;
}

Status AccountService::Adjust(dtm::SqlDb& tx, int user_id, int64_t delta) {
  const std::string id = std::to_string(user_id);
  auto changed = tx.Execute(
      "UPDATE user_account SET balance = balance + ? WHERE user_id = ? AND "
      "balance + trading_balance + ? >= 0",
      {std::to_string(delta), id, std::to_string(delta)});
  if (!changed.ok()) return changed.status();
  if (*changed == 1) return Status::Ok();
  auto exists = tx.Query("SELECT 1 FROM user_account WHERE user_id = ?", {id});
  if (!exists.ok()) return exists.status();
  return Status::Failure(exists->empty() ? "no account " + id
                                         : "insufficient balance in account " + id);
}

Status AccountService::AdjustFrozen(dtm::SqlDb& tx, int user_id, int64_t delta,
                                    bool check_available) {
  const std::string id = std::to_string(user_id);
  std::string sql =
      "UPDATE user_account SET trading_balance = trading_balance + ? WHERE user_id = ?";
  std::vector<std::string> params{std::to_string(delta), id};
  if (check_available) {
    sql += " AND balance + trading_balance + ? >= 0";
    params.push_back(std::to_string(delta));
  }
  auto changed = tx.Execute(sql, params);
  if (!changed.ok()) return changed.status();
  if (*changed == 1) return Status::Ok();
  return Status::Failure("cannot freeze " + std::to_string(-delta) + " in account " + id);
}

Status AccountService::Forward(const dtm::BranchRequest& req, int default_user, int64_t sign) {
  auto type = req.query.find("trans_type");
  if (type != req.query.end() && type->second == "xa") {
    // The action, and also the phase-2 commit / rollback DTM sends to the same URL with an
    // empty body (XaLocalTransaction does not call the function then).
    return dtm::XaLocalTransaction(req.query, conf_, [&](dtm::SqlDb& db, dtm::Xa&) {
      auto t = Parse(req, default_user);
      if (!t.ok()) return t.status();
      return Adjust(db, t->user_id, sign * t->amount);
    });
  }
  auto t = Parse(req, default_user);
  if (!t.ok()) return t.status();
  const int64_t delta = sign * t->amount;
  auto bb = req.Barrier();
  if (!bb.ok()) return bb.status();
  auto busi = [&](dtm::SqlDb& tx) { return Adjust(tx, t->user_id, delta); };
  if (bb->trans_type() == "msg") return barrier_->HandleMsg(*bb, busi);
  return barrier_->HandleSAGA(*bb, busi);
}

Status AccountService::Revert(const dtm::BranchRequest& req, int default_user, int64_t sign) {
  auto t = Parse(req, default_user);
  if (!t.ok()) return t.status();
  auto bb = req.Barrier();
  if (!bb.ok()) return bb.status();
  return barrier_->HandleSAGA(
      *bb, [&](dtm::SqlDb& tx) { return Adjust(tx, t->user_id, -sign * t->amount); });
}

Status AccountService::Tcc(const dtm::BranchRequest& req, int default_user, int64_t sign,
                           const char* phase) {
  auto t = Parse(req, default_user);
  if (!t.ok()) return t.status();
  auto bb = req.Barrier();
  if (!bb.ok()) return bb.status();
  const int64_t delta = sign * t->amount;
  const std::string p = phase;
  if (p == "try") {
    return barrier_->HandleTCCTry(*bb, [&](dtm::SqlDb& tx) {
      return AdjustFrozen(tx, t->user_id, delta, /*check_available=*/sign < 0);
    });
  }
  if (p == "confirm") {
    return barrier_->HandleTCCConfirm(*bb, [&](dtm::SqlDb& tx) {
      if (Status st = AdjustFrozen(tx, t->user_id, -delta, false); !st.ok()) return st;
      return Adjust(tx, t->user_id, delta);
    });
  }
  return barrier_->HandleTCCCancel(
      *bb, [&](dtm::SqlDb& tx) { return AdjustFrozen(tx, t->user_id, -delta, false); });
}

Status AccountService::UseRedis(const std::string& host, int port) {
  auto rd = dtm::RedisDb::Connect(host, port);
  if (!rd.ok()) return rd.status();
  std::lock_guard lock(redis_mu_);
  redis_.emplace(std::move(*rd));
  return Status::Ok();
}

Status AccountService::SetRedisBalances(const std::map<int, int64_t>& balances) {
  std::lock_guard lock(redis_mu_);
  if (!redis_) return Status::InvalidArgument("UseRedis was not called");
  for (const auto& [user, balance] : balances) {
    auto r = redis_->Command({"SET", RedisKey(user), std::to_string(balance)});
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

StatusOr<int64_t> AccountService::RedisBalance(int user_id) {
  std::lock_guard lock(redis_mu_);
  if (!redis_) return Status::InvalidArgument("UseRedis was not called");
  auto r = redis_->Command({"GET", RedisKey(user_id)});
  if (!r.ok()) return r.status();
  if (r->is_nil()) return Status::NotFound("no redis account " + std::to_string(user_id));
  return ToInt(r->str);
}

// sign: -1 pays out, +1 receives; a compensation passes the opposite sign.
Status AccountService::Redis(const dtm::BranchRequest& req, int default_user, int64_t sign) {
  auto t = Parse(req, default_user);
  if (!t.ok()) return t.status();
  auto bb = req.Barrier();
  if (!bb.ok()) return bb.status();
  std::lock_guard lock(redis_mu_);
  if (!redis_) return Status::Internal("the service has no Redis connection");
  return bb->RedisCheckAdjustAmount(*redis_, RedisKey(t->user_id), sign * t->amount,
                                    kRedisBarrierExpireSeconds);
}

void AccountService::Register(dtm::HttpBranchServer& server, const std::string& prefix) {
  using Req = const dtm::BranchRequest&;
  server.Handle("POST", prefix + "/TransOut",
                [this](Req r) { return Forward(r, kTransOutUser, -1); });
  server.Handle("POST", prefix + "/TransIn", [this](Req r) { return Forward(r, kTransInUser, 1); });
  server.Handle("POST", prefix + "/TransOutRevert",
                [this](Req r) { return Revert(r, kTransOutUser, -1); });
  server.Handle("POST", prefix + "/TransInRevert",
                [this](Req r) { return Revert(r, kTransInUser, 1); });
  for (const char* phase : {"Try", "Confirm", "Cancel"}) {
    std::string p = phase;
    std::string lower = p == "Try" ? "try" : p == "Confirm" ? "confirm" : "cancel";
    server.Handle("POST", prefix + "/TransOut" + p,
                  [this, lower](Req r) { return Tcc(r, kTransOutUser, -1, lower.c_str()); });
    server.Handle("POST", prefix + "/TransIn" + p,
                  [this, lower](Req r) { return Tcc(r, kTransInUser, 1, lower.c_str()); });
  }
  server.Handle("GET", prefix + "/QueryPrepared", [this](Req r) -> Status {
    auto bb = r.Barrier();
    if (!bb.ok()) return bb.status();
    return barrier_->QueryPrepared(*bb);
  });
  server.Handle("POST", prefix + "/TransOutRedis",
                [this](Req r) { return Redis(r, kTransOutUser, -1); });
  server.Handle("POST", prefix + "/TransInRedis",
                [this](Req r) { return Redis(r, kTransInUser, 1); });
  server.Handle("POST", prefix + "/TransOutRevertRedis",
                [this](Req r) { return Redis(r, kTransOutUser, 1); });
  server.Handle("POST", prefix + "/TransInRevertRedis",
                [this](Req r) { return Redis(r, kTransInUser, -1); });
  server.Handle("GET", prefix + "/QueryPreparedRedis", [this](Req r) -> Status {
    auto bb = r.Barrier();
    if (!bb.ok()) return bb.status();
    std::lock_guard lock(redis_mu_);
    if (!redis_) return Status::Internal("the service has no Redis connection");
    return bb->RedisQueryPrepared(*redis_, kRedisBarrierExpireSeconds);
  });
}

}  // namespace lynx::example
