#include "account_service.h"

#include <charconv>

#include "proto/busi.pb.h"

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

AccountService::Incoming AccountService::FromHttp(const dtm::BranchRequest& req,
                                                  int default_user) const {
  auto type = req.query.find("trans_type");
  return Incoming{
      type == req.query.end() ? "" : type->second, Parse(req, default_user), req.Barrier(),
      [this, &req](const XaFn& fn) { return dtm::XaLocalTransaction(req.query, conf_, fn); }};
}

AccountService::Incoming AccountService::FromGrpc(const dtm::GrpcBranchRequest& req,
                                                  int default_user) const {
  auto type = req.metadata.find("dtm-trans_type");
  busi::ReqGrpc msg;
  StatusOr<Transfer> transfer = Transfer{default_user, 0};
  if (Status st = req.ParseBody(&msg); !st.ok()) {
    transfer = Status::Failure(st.message());  // retrying cannot fix a malformed message
  } else if (msg.amount() < 0) {
    transfer = Status::Failure("amount must not be negative");
  } else {
    transfer = Transfer{default_user, msg.amount()};
  }
  return Incoming{type == req.metadata.end() ? "" : type->second, std::move(transfer),
                  req.Barrier(), [this, &req](const XaFn& fn) {
                    return dtm::XaLocalTransactionGrpc(req.metadata, conf_, dtm_grpc_tls_, fn);
                  }};
}

Status AccountService::Forward(Incoming in, int64_t sign) {
  if (in.trans_type == "xa") {
    // The action, and also the phase-2 commit / rollback DTM sends to the same URL with an
    // empty body (the XA local transaction does not call the function then).
    return in.xa_local([&](dtm::SqlDb& db, dtm::Xa&) {
      if (!in.transfer.ok()) return in.transfer.status();
      return Adjust(db, in.transfer->user_id, sign * in.transfer->amount);
    });
  }
  if (!in.transfer.ok()) return in.transfer.status();
  if (!in.barrier.ok()) return in.barrier.status();
  const Transfer& t = *in.transfer;
  auto busi = [&](dtm::SqlDb& tx) { return Adjust(tx, t.user_id, sign * t.amount); };
  if (in.barrier->trans_type() == "msg") return barrier_->HandleMsg(*in.barrier, busi);
  if (in.barrier->trans_type() == "workflow") return barrier_->HandleWorkflow(*in.barrier, busi);
  return barrier_->HandleSAGA(*in.barrier, busi);
}

Status AccountService::Revert(Incoming in, int64_t sign) {
  if (!in.transfer.ok()) return in.transfer.status();
  if (!in.barrier.ok()) return in.barrier.status();
  const Transfer& t = *in.transfer;
  auto busi = [&](dtm::SqlDb& tx) { return Adjust(tx, t.user_id, -sign * t.amount); };
  // A workflow's compensation comes from its OnRollback with op rollback.
  if (in.barrier->trans_type() == "workflow") return barrier_->HandleWorkflow(*in.barrier, busi);
  return barrier_->HandleSAGA(*in.barrier, busi);
}

Status AccountService::Tcc(Incoming in, int64_t sign, const std::string& phase) {
  if (!in.transfer.ok()) return in.transfer.status();
  if (!in.barrier.ok()) return in.barrier.status();
  const Transfer& t = *in.transfer;
  const int64_t delta = sign * t.amount;
  if (phase == "try") {
    return barrier_->HandleTCCTry(*in.barrier, [&](dtm::SqlDb& tx) {
      return AdjustFrozen(tx, t.user_id, delta, /*check_available=*/sign < 0);
    });
  }
  if (phase == "confirm") {
    return barrier_->HandleTCCConfirm(*in.barrier, [&](dtm::SqlDb& tx) {
      if (Status st = AdjustFrozen(tx, t.user_id, -delta, false); !st.ok()) return st;
      return Adjust(tx, t.user_id, delta);
    });
  }
  return barrier_->HandleTCCCancel(
      *in.barrier, [&](dtm::SqlDb& tx) { return AdjustFrozen(tx, t.user_id, -delta, false); });
}

Status AccountService::QueryPrepared(Incoming in) {
  if (!in.barrier.ok()) return in.barrier.status();
  return barrier_->QueryPrepared(*in.barrier);
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

namespace {
// The forward / compensation direction of each route: which account, and the sign of its change.
struct Route {
  const char* name;
  int user;
  int64_t sign;
};
constexpr Route kRoutes[] = {{"TransOut", kTransOutUser, -1}, {"TransIn", kTransInUser, 1}};
constexpr const char* kTccPhases[][2] = {
    {"Try", "try"}, {"Confirm", "confirm"}, {"Cancel", "cancel"}};
}  // namespace

void AccountService::Register(dtm::HttpBranchServer& server, const std::string& prefix) {
  using Req = const dtm::BranchRequest&;
  for (const Route& r : kRoutes) {
    const std::string base = prefix + "/" + r.name;
    server.Handle("POST", base, [this, r](Req q) { return Forward(FromHttp(q, r.user), r.sign); });
    server.Handle("POST", base + "Revert",
                  [this, r](Req q) { return Revert(FromHttp(q, r.user), r.sign); });
    for (const auto& phase : kTccPhases) {
      std::string p = phase[1];
      server.Handle("POST", base + phase[0],
                    [this, r, p](Req q) { return Tcc(FromHttp(q, r.user), r.sign, p); });
    }
    server.Handle("POST", base + "Redis", [this, r](Req q) { return Redis(q, r.user, r.sign); });
    server.Handle("POST", base + "RevertRedis",
                  [this, r](Req q) { return Redis(q, r.user, -r.sign); });
  }
  server.Handle("GET", prefix + "/QueryPrepared",
                [this](Req q) { return QueryPrepared(FromHttp(q, kTransOutUser)); });
  server.Handle("GET", prefix + "/QueryPreparedRedis", [this](Req r) -> Status {
    auto bb = r.Barrier();
    if (!bb.ok()) return bb.status();
    std::lock_guard lock(redis_mu_);
    if (!redis_) return Status::Internal("the service has no Redis connection");
    return bb->RedisQueryPrepared(*redis_, kRedisBarrierExpireSeconds);
  });
}

void AccountService::RegisterGrpc(dtm::GrpcBranchServer& server) {
  using Req = const dtm::GrpcBranchRequest&;
  using Reply = StatusOr<std::string>;
  // A handler's Ok is the empty reply message (google.protobuf.Empty).
  auto reply = [](const Status& st) -> Reply {
    if (!st.ok()) return st;
    return std::string();
  };
  for (const Route& r : kRoutes) {
    const std::string base = std::string("/busi.Busi/") + r.name;
    server.Handle(base,
                  [this, r, reply](Req q) { return reply(Forward(FromGrpc(q, r.user), r.sign)); });
    server.Handle(base + "Revert",
                  [this, r, reply](Req q) { return reply(Revert(FromGrpc(q, r.user), r.sign)); });
    for (const auto& phase : kTccPhases) {
      std::string p = phase[1];
      server.Handle(base + phase[0], [this, r, p, reply](Req q) {
        return reply(Tcc(FromGrpc(q, r.user), r.sign, p));
      });
    }
  }
  server.Handle("/busi.Busi/QueryPrepared",
                [this, reply](Req q) { return reply(QueryPrepared(FromGrpc(q, kTransOutUser))); });
}

}  // namespace lynx::example
