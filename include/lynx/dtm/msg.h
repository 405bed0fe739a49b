// Msg: DTM's 2-phase message (dtm-protocol.md §5.3). Prepare registers the message with a
// query-prepared URL that DTM asks when the outcome of the local transaction is unknown; Submit
// makes DTM deliver the steps. DoAndSubmit runs prepare -> local transaction -> submit/abort as
// DTM's SDK does:
//   lynx::dtm::Msg msg(server_url, gid);
//   msg.Add(busi + "/TransIn", {{"amount", 30}});
//   lynx::Status st = msg.DoAndSubmit(busi + "/QueryPrepared", [&](lynx::dtm::BranchBarrier& bb) {
//     return LocalTransaction(bb);   // Ok, a Failure (-> abort) or another error (-> back-check)
//   });
// Over gRPC: NewMsgGrpc(grpc_server, gid); steps and query_prepared may then be gRPC URLs
// (host:port/pkg.Service/Method), the back-check is a gRPC call with the dtm-* metadata.
// Use from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <lynx/dtm/barrier.h>
#include <lynx/dtm/grpc.h>
#include <lynx/dtm/json.h>
#include <lynx/dtm/trans_base.h>
#include <lynx/status.h>

namespace lynx::dtm {

class SqlDb;

inline constexpr char kMsgTopicPrefix[] = "topic://";

class Msg : public TransBase, public TransOptionSetters<Msg> {
 public:
  Msg(std::string server_url, std::string gid);

  // Appends a step: DTM POSTs `data` to `action` once the message is submitted.
  Msg& Add(const std::string& action, Payload data = {});
  // A step delivered to every subscriber of `topic` ("topic://<topic>").
  Msg& AddTopic(const std::string& topic, Payload data = {});
  // DTM calls the steps no earlier than `seconds` after the submit (custom_data {"delay":N}).
  Msg& SetDelay(uint64_t seconds);
  // Steps are delivered concurrently (the top-level "concurrent" flag). Not over gRPC: a gRPC
  // msg that is concurrent fails Prepare / Submit with InvalidArgument.
  Msg& EnableConcurrent();

  // Prepare with the steps; `query_prepared` (when non-empty) replaces the stored URL.
  Status Prepare(const std::string& query_prepared = "");
  Status Submit();
  // Go's DoAndSubmit (dtm-protocol.md §9.2): prepare; busi(barrier of (msg, gid, "00", "msg"));
  // then when busi returned neither Ok nor a Failure, ask query_prepared (HTTP GET, or a gRPC
  // call with an empty message when it is a gRPC URL of a gRPC msg) whether the local
  // transaction committed; abort when busi or the query said FAILURE, else submit when the query
  // (if any) succeeded. Returns busi's status when it is not Ok, else the submit/query status.
  // An exception thrown by busi propagates with the message left prepared; DTM's back-check
  // then decides, as with a crash.
  Status DoAndSubmit(const std::string& query_prepared,
                     const std::function<Status(BranchBarrier&)>& busi);
  // Go's DoAndSubmitDB: DoAndSubmit whose local transaction is busi(tx) run by
  // BranchBarrier::CallWithDB on `db`, so the barrier row (gid, 00, msg, 01) commits with the
  // business change and the query-prepared handler answers with BranchBarrier::QueryPrepared.
  Status DoAndSubmitDB(const std::string& query_prepared, SqlDb& db,
                       const std::function<Status(SqlDb&)>& busi);

  std::string BuildCustomData() const;
  std::string PrepareBody() const { return ToJson(); }
  std::string SubmitBody() const { return ToJsonWith(BuildCustomData()); }

 private:
  friend Msg NewMsgGrpc(const std::string& grpc_server, const std::string& gid,
                        const GrpcTlsOptions& tls);
  Status CheckGrpcConcurrency() const;
  uint64_t delay_ = 0;
};

// Go's dtmgrpc.NewMsgGrpc: a 2-phase message sent to DTM's gRPC server `grpc_server`
// (host:port).
Msg NewMsgGrpc(const std::string& grpc_server, const std::string& gid,
               const GrpcTlsOptions& tls = {});

}  // namespace lynx::dtm
