// The example's business service: bank accounts whose balances live in a real database (SQLite,
// PostgreSQL or MySQL/MariaDB), with the branch handlers of every DTM mode at the URLs of the
// seed's snippets. Each handler dispatches on the trans_type DTM sends, so one URL serves a saga
// step, a 2-phase message step and an XA branch, as in the seed:
//   POST {prefix}/TransOut, /TransIn            saga action, msg step, xa branch, workflow step
//   POST {prefix}/TransOutRevert, /TransInRevert saga compensation, workflow rollback
//   POST {prefix}/TransOutTry|Confirm|Cancel, /TransInTry|Confirm|Cancel   TCC
//   GET  {prefix}/QueryPrepared                 msg back-check
// A body is {"amount": N} with optional "user_id" (default: 1 pays, 2 receives). Business
// failures are real: paying more than the available balance, or an unknown account, is FAILURE
// and DTM rolls the transaction back. Every handler runs under the sub-transaction barrier.
// With a Redis connection configured, /TransOutRedis and /TransInRedis keep the same accounts in
// Redis keys (the Redis barrier).
// The same handlers serve gRPC branches (RegisterGrpc): methods /busi.Busi/TransOut, TransIn,
// TransOutRevert, TransInRevert, TransOut|InTry|Confirm|Cancel and QueryPrepared, whose request
// is a busi.ReqGrpc (Amount; the default accounts) and whose barrier comes from the dtm-*
// metadata. Thread-safe: handlers use pooled connections.
#pragma once

#include <lynx/dtm/dtm.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace lynx::example {

inline constexpr int kTransOutUser = 1;
inline constexpr int kTransInUser = 2;

class AccountService {
 public:
  // `metrics` (optional) counts barrier operations; it must outlive the service.
  explicit AccountService(dtm::DBConf conf, const dtm::ClientMetrics* metrics = nullptr);

  // Creates the account and barrier tables (and, on MySQL, the database named in conf.db).
  Status Init();
  // Sets the balances (and clears frozen amounts) of the given accounts.
  Status SetBalances(const std::map<int, int64_t>& balances);
  StatusOr<int64_t> Balance(int user_id);
  // The amount frozen by TCC tries not yet confirmed or cancelled (negative: outgoing).
  StatusOr<int64_t> Frozen(int user_id);

  // Redis accounts ("lynx-account-<id>" keys) for the *Redis routes.
  Status UseRedis(const std::string& host, int port);
  Status SetRedisBalances(const std::map<int, int64_t>& balances);
  StatusOr<int64_t> RedisBalance(int user_id);

  // Registers every route under `prefix` (e.g. "/api").
  void Register(dtm::HttpBranchServer& server, const std::string& prefix);
  // Registers the gRPC methods of service busi.Busi ("/busi.Busi/TransOut", ...).
  void RegisterGrpc(dtm::GrpcBranchServer& server);
  // TLS of the connection to DTM's gRPC server, used when a gRPC XA branch registers itself.
  void SetDtmGrpcTls(dtm::GrpcTlsOptions tls) { dtm_grpc_tls_ = std::move(tls); }

  const dtm::DBConf& conf() const { return conf_; }

 private:
  struct Transfer {
    int user_id;
    int64_t amount;
  };
  using XaFn = std::function<Status(dtm::SqlDb&, dtm::Xa&)>;
  // One branch call, whichever protocol carried it.
  struct Incoming {
    std::string trans_type;
    StatusOr<Transfer> transfer;
    StatusOr<dtm::BranchBarrier> barrier;
    // Runs the XA local transaction the call names (XaLocalTransaction or its gRPC twin).
    std::function<Status(const XaFn&)> xa_local;
  };
  Incoming FromHttp(const dtm::BranchRequest& req, int default_user) const;
  Incoming FromGrpc(const dtm::GrpcBranchRequest& req, int default_user) const;
  StatusOr<Transfer> Parse(const dtm::BranchRequest& req, int default_user) const;
  // balance += delta for user; Failure when the account is unknown or would go below zero.
  static Status Adjust(dtm::SqlDb& tx, int user_id, int64_t delta);
  static Status AdjustFrozen(dtm::SqlDb& tx, int user_id, int64_t delta, bool check_available);
  // By value: the barrier counts its local transactions (barrier ids 01, 02, ...).
  Status Forward(Incoming in, int64_t sign);
  Status Revert(Incoming in, int64_t sign);
  Status Tcc(Incoming in, int64_t sign, const std::string& phase);
  Status QueryPrepared(Incoming in);
  Status Redis(const dtm::BranchRequest& req, int default_user, int64_t sign);

  dtm::DBConf conf_;
  std::unique_ptr<dtm::SqlDbPool> pool_;
  std::unique_ptr<dtm::BarrierHandler> barrier_;
  const dtm::ClientMetrics* metrics_;
  dtm::GrpcTlsOptions dtm_grpc_tls_;
  std::mutex redis_mu_;
  std::optional<dtm::RedisDb> redis_;  // guarded by redis_mu_
};

}  // namespace lynx::example
