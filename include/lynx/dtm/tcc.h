// TCC over HTTP and gRPC (dtm-protocol.md §5.4, §9.2-9.3). TccGlobalTransaction prepares the global
// transaction, runs `fn` — which calls the branches' try URLs through Tcc::CallBranch — and
// submits (DTM confirms every registered branch) or, when `fn` returned an error or threw, aborts
// with the error as rollback_reason (DTM cancels them); an exception is rethrown after the abort.
//   lynx::Status st = lynx::dtm::TccGlobalTransaction(server_url, gid, [&](lynx::dtm::Tcc& tcc) {
//     auto out = tcc.CallBranch({{"amount", 30}}, busi + "/TransOutTry",
//                               busi + "/TransOutConfirm", busi + "/TransOutCancel");
//     return out.status();
//   });
// A branch service that itself opens TCC sub-branches builds its Tcc with TccFromQuery(query of
// its try request); the sub-branches get ids "0101", "0102", ...
// Over gRPC: TccGlobalTransactionGrpc(grpc_server, gid, fn) with gRPC try/confirm/cancel URLs
// (host:port/pkg.Service/Method) and protobuf messages as data; a gRPC try handler nests with
// TccFromGrpc(metadata of its call). Use from one thread at a time.
#pragma once

#include <functional>
#include <map>
#include <string>

#include <lynx/dtm/grpc.h>
#include <lynx/dtm/json.h>
#include <lynx/dtm/trans_base.h>
#include <lynx/status.h>

namespace lynx::dtm {

class Tcc : public TransBase, public TransOptionSetters<Tcc> {
 public:
  // A top-level TCC transaction (its branches are 01, 02, ...).
  Tcc(std::string server_url, std::string gid);

  // Registers the branch (registerBranch: data, branch_id, confirm, cancel) and then POSTs `data`
  // to try_url with the query dtm, gid, branch_id, trans_type=tcc, op=try and the branch
  // headers. The try's reply body, or the first error. Over gRPC: RegisterBranch{BranchID,
  // BusiPayload = data's bytes, Data{confirm, cancel}}, then the try call with data as the
  // request message and metadata dtm-op=try; the reply message's bytes.
  StatusOr<std::string> CallBranch(Payload data, const std::string& try_url,
                                   const std::string& confirm_url, const std::string& cancel_url);

  // "" for a top-level transaction, else the branch this Tcc was built inside (TccFromQuery).
  const std::string& branch_id() const { return branch_ids_.branch_id(); }

  std::string PrepareBody() const { return ToJson(); }

 private:
  friend StatusOr<Tcc> TccFromQuery(const std::map<std::string, std::string>& query);
  friend StatusOr<Tcc> TccFromGrpc(const GrpcMetadata& metadata, const GrpcTlsOptions& tls);
  friend Tcc NewTccGrpc(const std::string& grpc_server, const std::string& gid,
                        const GrpcTlsOptions& tls);
  friend Status TccGlobalTransaction(Tcc& tcc, const std::function<Status(Tcc&)>& fn);
  Tcc(std::string server_url, std::string gid, std::string trans_type, std::string branch_id);
};

// Runs prepare -> fn -> submit | abort on a configured Tcc (e.g. DTMClient::NewTcc).
Status TccGlobalTransaction(Tcc& tcc, const std::function<Status(Tcc&)>& fn);
Status TccGlobalTransaction(const std::string& server_url, const std::string& gid,
                            const std::function<Status(Tcc&)>& fn);
// Go's TccGlobalTransaction2: `custom` sets options before prepare.
Status TccGlobalTransaction(const std::string& server_url, const std::string& gid,
                            const std::function<void(Tcc&)>& custom,
                            const std::function<Status(Tcc&)>& fn);

// A Tcc for nested branches, from the query of an incoming try request (dtm, gid, trans_type,
// branch_id). InvalidArgument when dtm or gid is missing.
StatusOr<Tcc> TccFromQuery(const std::map<std::string, std::string>& query);

// A top-level TCC transaction over DTM's gRPC server `grpc_server` (host:port); run it with
// TccGlobalTransaction(tcc, fn).
Tcc NewTccGrpc(const std::string& grpc_server, const std::string& gid,
               const GrpcTlsOptions& tls = {});
// Go's dtmgrpc.TccGlobalTransaction / TccGlobalTransaction2: prepare -> fn -> submit | abort over
// gRPC.
Status TccGlobalTransactionGrpc(const std::string& grpc_server, const std::string& gid,
                                const std::function<Status(Tcc&)>& fn);
Status TccGlobalTransactionGrpc(const std::string& grpc_server, const std::string& gid,
                                const std::function<void(Tcc&)>& custom,
                                const std::function<Status(Tcc&)>& fn);

// Go's TccFromGrpc: a gRPC Tcc for nested branches, from the metadata of an incoming gRPC try
// call (dtm-dtm, dtm-gid, dtm-trans_type, dtm-branch_id). InvalidArgument when dtm-dtm or dtm-gid
// is missing. `tls`: of the connection to DTM.
StatusOr<Tcc> TccFromGrpc(const GrpcMetadata& metadata, const GrpcTlsOptions& tls = {});

}  // namespace lynx::dtm
