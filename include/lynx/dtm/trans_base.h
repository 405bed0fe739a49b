// What every DTM transaction of the client has in common (Go's dtmimp.TransBase): the gid, the
// type, the DTM server it talks to, the per-transaction options sent to the server, the branch id
// generator of TCC/XA, and the calls to DTM (prepare/submit/abort/registerBranch) and to branches.
// A transaction talks to DTM over HTTP (the default; server_url is DTM's HTTP API base) or over
// gRPC (built by NewSagaGrpc / NewMsgGrpc / NewTccGrpc / NewXaGrpc / DTMClient::New*Grpc;
// server_url is then DTM's gRPC address host:port). A gRPC transaction calls gRPC branch URLs
// (host:port/pkg.Service/Method) over gRPC and http(s):// URLs over HTTP, as DTM does.
// Every operation returns a lynx::Status: IsFailure() when DTM or the branch answered FAILURE
// (409 / a body containing "FAILURE" / gRPC ABORTED), IsOngoing() for ONGOING (425 /
// FAILED_PRECONDITION), other codes for transport and server errors. Nothing throws for expected
// failures.
// A transaction object is used from one thread at a time (it is not synchronised); the HTTP and
// gRPC transports behind it are shared and thread-safe, so many transactions may run in parallel.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <lynx/context.h>
#include <lynx/dtm/grpc.h>
#include <lynx/dtm/json.h>
#include <lynx/dtm/trace.h>
#include <lynx/status.h>

namespace lynx::dtm {

namespace internal {
class Transport;
}

// The options DTM stores with a transaction (Go's TransOptions). Zero / empty fields are not sent
// and the server's defaults apply.
struct TransOptions {
  bool wait_result = false;     // submit (and abort) answer only once the transaction finished
  int64_t timeout_to_fail = 0;  // seconds; tcc/xa/msg fail when not submitted in time
  // Seconds: timeout of the server's calls to this transaction's branches, and of this client's
  // own calls to DTM and to the try/action branches (0: no limit besides the context's).
  int64_t request_timeout = 0;
  int64_t retry_interval = 0;                              // seconds; base of the server's back-off
  std::map<std::string, std::string> branch_headers = {};  // sent on every branch call
  bool concurrent = false;                                 // msg: run the steps concurrently
  int64_t retry_limit = 0;                                 // saga: retries before giving up
};

// Go's BranchIDGen: sub-branch ids are the parent id plus a two-digit counter starting at 01
// ("01", "02", ...; inside branch "01": "0101", ...). More than 99 children, or a parent id of 20
// characters or more, is an error (Go panics).
class BranchIdGen {
 public:
  explicit BranchIdGen(std::string parent_branch_id = "")
      : branch_id_(std::move(parent_branch_id)) {}
  StatusOr<std::string> NewSubBranchId();
  std::string CurrentSubBranchId() const;
  const std::string& branch_id() const { return branch_id_; }

 private:
  std::string branch_id_;
  int sub_branch_id_ = 0;
};

class TransBase {
 public:
  const std::string& gid() const { return gid_; }
  const std::string& trans_type() const { return trans_type_; }
  // DTM's HTTP API base, or its gRPC address host:port for a gRPC transaction.
  const std::string& server_url() const { return server_url_; }
  // "http" or "grpc".
  std::string protocol() const { return uses_grpc() ? "grpc" : "http"; }
  bool uses_grpc() const { return protocol_ == "grpc"; }
  // TLS of a gRPC transaction's connection to DTM.
  const GrpcTlsOptions& grpc_tls() const { return grpc_tls_; }
  TransOptions& options() { return options_; }
  const TransOptions& options() const { return options_; }

  // The context bounds every call this transaction makes (deadline, cancellation). Its headers
  // are not sent by themselves: DTMClient / TransactionHelper turn the configured pass-through
  // headers into options().branch_headers. Its trace (trace.h) is: the context carries one, or
  // the transaction starts a new one; every call to DTM and to branches sends it.
  const Context& context() const { return context_; }
  void SetContext(Context context);
  // The trace this transaction's calls carry (e.g. to log its trace_id).
  TraceParent trace() const;

  // The body sent to prepare / submit / abort, field for field and in the order of Go's
  // TransBase marshalling (dtm-protocol.md §2.3). Subclasses add their custom_data at submit.
  std::string ToJson() const;

  // Steps and payloads as they will be sent (saga / msg).
  const std::vector<std::map<std::string, std::string>>& steps() const { return steps_; }
  // The bytes of each step's Payload (HTTP "payloads", gRPC BinPayloads).
  const std::vector<std::string>& payloads() const { return payloads_; }
  const std::string& custom_data() const { return custom_data_; }
  const std::string& query_prepared() const { return query_prepared_; }
  const std::string& rollback_reason() const { return rollback_reason_; }

 protected:
  TransBase(std::string server_url, std::string gid, std::string trans_type,
            std::string parent_branch_id = "");

  // Makes this a gRPC transaction: server_url_ is DTM's gRPC address.
  void UseGrpc(GrpcTlsOptions tls);

  // prepare / submit / abort: HTTP POST {server_url}/{operation} with ToJson() and the reply
  // rules of §9.1, or gRPC /dtmgimp.Dtm/{Prepare,Submit,Abort} with the same fields.
  Status CallDtm(const std::string& operation) const;
  // HTTP only: POST {server_url}/{operation} with `body`.
  Status CallDtmBody(const std::string& operation, const std::string& body) const;
  // registerBranch with gid and trans_type added to `fields` (HTTP), or RegisterBranch with
  // BranchID = fields["branch_id"], BusiPayload = fields["data"] and the rest as Data (gRPC).
  Status RegisterBranch(std::map<std::string, std::string> fields) const;
  // A call to a business branch from this SDK (TCC try, XA action, msg query-prepared). HTTP:
  // query dtm, gid, branch_id, trans_type, op (+ phase2_url for xa), options().branch_headers,
  // body; the reply rules of DTM's HTTPResp2DtmError. gRPC (a gRPC transaction and a URL that is
  // not http(s)://): metadata dtm-gid, dtm-trans_type, dtm-branch_id, dtm-op, dtm-dtm
  // (+ dtm-phase2_url for xa) and the branch headers, `body` as the request message; the rules of
  // GrpcError2DtmError (`method` is ignored). The reply body / message bytes on success.
  StatusOr<std::string> RequestBranch(const std::string& method, const std::string& body,
                                      const std::string& branch_id, const std::string& op,
                                      const std::string& url) const;
  std::string ToJsonWith(const std::string& custom_data) const;
  // The TCC/XA global transaction (Go's DeferDo): prepare; fn; submit when fn returned Ok, else
  // abort with rollback_reason = fn's message and return fn's status; when fn throws, abort with
  // the exception's text and rethrow.
  Status RunGlobalTransaction(const std::function<Status()>& fn);

  std::string server_url_;
  std::string gid_;
  std::string trans_type_;
  std::string custom_data_;
  TransOptions options_;
  std::vector<std::map<std::string, std::string>> steps_;
  std::vector<std::string> payloads_;
  BranchIdGen branch_ids_;
  std::string query_prepared_;
  std::string protocol_;  // "" (HTTP, sent as Go's dtmcli sends it) or "grpc"
  GrpcTlsOptions grpc_tls_;
  std::string rollback_reason_;
  Context context_;
  std::shared_ptr<internal::Transport> transport_;

 private:
  // RequestBranch's gRPC call.
  StatusOr<std::string> RequestGrpcBranch(const std::string& body, const std::string& branch_id,
                                          const std::string& op, const std::string& url) const;
};

// Fluent option setters shared by Saga, Msg, Tcc and Xa (each returns the derived object).
template <class Derived>
class TransOptionSetters {
 public:
  Derived& SetWaitResult(bool wait = true) {
    Opts().wait_result = wait;
    return Self();
  }
  Derived& SetTimeoutToFail(int64_t seconds) {
    Opts().timeout_to_fail = seconds;
    return Self();
  }
  Derived& SetRequestTimeout(int64_t seconds) {
    Opts().request_timeout = seconds;
    return Self();
  }
  Derived& SetRetryInterval(int64_t seconds) {
    Opts().retry_interval = seconds;
    return Self();
  }
  Derived& SetRetryLimit(int64_t limit) {
    Opts().retry_limit = limit;
    return Self();
  }
  Derived& SetBranchHeaders(std::map<std::string, std::string> headers) {
    Opts().branch_headers = std::move(headers);
    return Self();
  }
  Derived& AddBranchHeader(const std::string& name, const std::string& value) {
    Opts().branch_headers[name] = value;
    return Self();
  }
  Derived& WithContext(Context context) {
    Self().SetContext(std::move(context));
    return Self();
  }

 private:
  Derived& Self() { return static_cast<Derived&>(*this); }
  TransOptions& Opts() { return Self().options(); }
};

}  // namespace lynx::dtm
