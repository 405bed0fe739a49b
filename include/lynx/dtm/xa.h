// XA over HTTP and gRPC (dtm-protocol.md §5.5, §9.2-9.3), the global side. XaGlobalTransaction
// prepares the global transaction, runs `fn` — which calls the branches through Xa::CallBranch —
// and submits (DTM commits every branch that registered itself) or, when `fn` returned an error or
// threw, aborts (DTM rolls them back); an exception is rethrown after the abort. The branch side
// runs its local work in an XA local transaction and registers itself with DTM (phase2_url = its
// URL).
//   lynx::Status st = lynx::dtm::XaGlobalTransaction(server_url, gid, [&](lynx::dtm::Xa& xa) {
//     return xa.CallBranch(busi + "/TransOutXa", {{"amount", 30}}).status();
//   });
// The branch side runs its local work with XaLocalTransaction, from the query of the request DTM
// (or the global side) sent it, on PostgreSQL (BEGIN ... PREPARE TRANSACTION) or MySQL/MariaDB
// (XA START/END/PREPARE); the same call on the phase-2 request commits or rolls back:
//   lynx::Status st = lynx::dtm::XaLocalTransaction(query, conf, [&](lynx::dtm::SqlDb& db,
//                                                                   lynx::dtm::Xa& xa) {
//     return db.Execute("UPDATE account SET balance = balance - ? WHERE id = ?", {"30", "1"})
//         .status();
//   });
// Over gRPC: XaGlobalTransactionGrpc(grpc_server, gid, fn) calls gRPC branch URLs with metadata
// dtm-op=action and dtm-phase2_url; the branch's gRPC handler runs
// XaLocalTransactionGrpc(metadata of its call, conf, fn), which registers over gRPC.
// Use from one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <lynx/dtm/grpc.h>
#include <lynx/dtm/json.h>
#include <lynx/dtm/sql.h>
#include <lynx/dtm/trans_base.h>
#include <lynx/status.h>

namespace lynx::dtm {

class Xa : public TransBase, public TransOptionSetters<Xa> {
 public:
  Xa(std::string server_url, std::string gid);

  // POSTs `data` to url with the query dtm, gid, branch_id (a new sub-branch id),
  // trans_type=xa, op=action and phase2_url=url, and the branch headers. The reply body, or the
  // error. Over gRPC: the same as dtm-* metadata, data as the request message; the reply
  // message's bytes.
  StatusOr<std::string> CallBranch(const std::string& url, Payload data = {});

  std::string PrepareBody() const { return ToJson(); }

  // Branch side (XaFromQuery): this branch's id, op (action, commit or rollback) and the URL DTM
  // calls for phase 2.
  const std::string& branch_id() const { return branch_ids_.branch_id(); }
  const std::string& op() const { return op_; }
  const std::string& phase2_url() const { return phase2_url_; }

 private:
  friend Status XaGlobalTransaction(Xa& xa, const std::function<Status(Xa&)>& fn);
  friend StatusOr<Xa> XaFromQuery(const std::map<std::string, std::string>& query);
  friend StatusOr<Xa> XaFromGrpc(const GrpcMetadata& metadata, const GrpcTlsOptions& tls);
  friend Xa NewXaGrpc(const std::string& grpc_server, const std::string& gid,
                      const GrpcTlsOptions& tls);
  friend Status XaLocalTransaction(const std::map<std::string, std::string>& query,
                                   const DBConf& conf,
                                   const std::function<Status(SqlDb&, Xa&)>& fn);
  friend Status XaLocalTransactionGrpc(const GrpcMetadata& metadata, const DBConf& conf,
                                       const GrpcTlsOptions& tls,
                                       const std::function<Status(SqlDb&, Xa&)>& fn);
  Xa(std::string server_url, std::string gid, std::string branch_id, std::string op,
     std::string phase2_url);
  // XaLocalTransaction's work for a branch built from a request (HTTP query or gRPC metadata);
  // the registration goes over the branch's protocol.
  static Status RunLocalTransaction(Xa& xa, const DBConf& conf,
                                    const std::function<Status(SqlDb&, Xa&)>& fn);
  std::string op_;
  std::string phase2_url_;
};

// Runs prepare -> fn -> submit | abort on a configured Xa (e.g. DTMClient::NewXa).
Status XaGlobalTransaction(Xa& xa, const std::function<Status(Xa&)>& fn);
Status XaGlobalTransaction(const std::string& server_url, const std::string& gid,
                           const std::function<Status(Xa&)>& fn);
// Go's XaGlobalTransaction2: `custom` sets options before prepare.
Status XaGlobalTransaction(const std::string& server_url, const std::string& gid,
                           const std::function<void(Xa&)>& custom,
                           const std::function<Status(Xa&)>& fn);

// Go's XaFromQuery: the branch named by the query dtm, gid, branch_id, op and phase2_url of a
// request to an XA branch. InvalidArgument when gid, branch_id or op is missing.
StatusOr<Xa> XaFromQuery(const std::map<std::string, std::string>& query);

// Go's XaLocalTransaction, for an XA branch handler (dtm-protocol.md §5.5, §8.7), given the
// request's query and the branch's database:
//   - op commit / rollback (phase 2, called by DTM): XA COMMIT / ROLLBACK of xid gid-branch_id on
//     a pooled connection (PostgreSQL: COMMIT / ROLLBACK PREPARED). An unknown xid counts as done
//     (a repeated call); after a rollback the barrier row (xa, gid, branch_id, action, 01,
//     rollback) is inserted so that a late local transaction cannot prepare.
//   - otherwise: on a new connection, XA START; insert the barrier row (xa, gid, branch_id,
//     action, 01, action); fn(db, xa); register the branch with DTM (url = phase2_url); XA END;
//     XA PREPARE. When fn or the registration fails, the local work is rolled back and the
//     status returned (fn's Failure stays a Failure, so the handler answers 409).
// The database needs the barrier table (CreateBarrierTable) and, on PostgreSQL,
// max_prepared_transactions > 0. A gid or branch id with a quote or backslash is refused
// (InvalidArgument): it cannot be an XA id.
Status XaLocalTransaction(const std::map<std::string, std::string>& query, const DBConf& conf,
                          const std::function<Status(SqlDb&, Xa&)>& fn);

// A global XA transaction over DTM's gRPC server `grpc_server` (host:port); run it with
// XaGlobalTransaction(xa, fn).
Xa NewXaGrpc(const std::string& grpc_server, const std::string& gid,
             const GrpcTlsOptions& tls = {});
// Go's dtmgrpc.XaGlobalTransaction / XaGlobalTransaction2 (prepare -> fn -> submit | abort over
// gRPC).
Status XaGlobalTransactionGrpc(const std::string& grpc_server, const std::string& gid,
                               const std::function<Status(Xa&)>& fn);
Status XaGlobalTransactionGrpc(const std::string& grpc_server, const std::string& gid,
                               const std::function<void(Xa&)>& custom,
                               const std::function<Status(Xa&)>& fn);

// Go's XaGrpcFromRequest: the branch named by the metadata dtm-dtm, dtm-gid, dtm-branch_id,
// dtm-op and dtm-phase2_url of a gRPC call to an XA branch. InvalidArgument when dtm-gid,
// dtm-branch_id or dtm-op is missing. `tls`: of the connection to DTM.
StatusOr<Xa> XaFromGrpc(const GrpcMetadata& metadata, const GrpcTlsOptions& tls = {});

// XaLocalTransaction for a gRPC XA branch handler: the branch comes from the call's metadata
// (XaFromGrpc) and registers with DTM's gRPC server (dtm-dtm) as RegisterBranch{BranchID,
// Data{url: dtm-phase2_url}}; everything else as XaLocalTransaction.
Status XaLocalTransactionGrpc(const GrpcMetadata& metadata, const DBConf& conf,
                              const std::function<Status(SqlDb&, Xa&)>& fn);
Status XaLocalTransactionGrpc(const GrpcMetadata& metadata, const DBConf& conf,
                              const GrpcTlsOptions& tls,
                              const std::function<Status(SqlDb&, Xa&)>& fn);

}  // namespace lynx::dtm
