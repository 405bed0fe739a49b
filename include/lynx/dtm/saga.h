// Saga: a list of steps (action + compensation) that DTM runs forward and, when an action answers
// FAILURE, compensates backwards (dtm-protocol.md §5.2). Built locally, sent once by Submit().
//   lynx::dtm::Saga saga(server_url, gid);
//   saga.Add(busi + "/TransOut", busi + "/TransOutRevert", {{"amount", 30}})
//       .Add(busi + "/TransIn", busi + "/TransInRevert", {{"amount", 30}});
//   lynx::Status st = saga.Submit();
// Over gRPC (dtm-protocol.md §9.3), with protobuf messages as the step bodies:
//   lynx::dtm::Saga saga = lynx::dtm::NewSagaGrpc("localhost:36790", gid);
//   saga.Add("localhost:58081/busi.Busi/TransOut", "localhost:58081/busi.Busi/TransOutRevert",
//            req);   // a busi::ReqGrpc: its serialized bytes are the BinPayload
// Use from one thread at a time.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <lynx/dtm/grpc.h>
#include <lynx/dtm/json.h>
#include <lynx/dtm/trans_base.h>
#include <lynx/status.h>

namespace lynx::dtm {

class Saga : public TransBase, public TransOptionSetters<Saga> {
 public:
  Saga(std::string server_url, std::string gid);

  // Appends a step; `data` is the body DTM sends to both URLs (over gRPC: the request message's
  // bytes, e.g. a protobuf message or Payload::Bytes).
  Saga& Add(const std::string& action, const std::string& compensate, Payload data = {});
  // Step `branch` (0-based, in Add order) runs only after every step in `prerequisites`.
  // Only sent when concurrent execution is enabled.
  Saga& AddBranchOrder(int branch, std::vector<int> prerequisites);
  // Steps run concurrently, subject to the branch orders.
  Saga& EnableConcurrent();

  // POST /submit. With options().wait_result the server answers once the saga finished
  // (Failure when it did not succeed).
  Status Submit();

  // custom_data as Go's BuildCustomOptions writes it: {"concurrent":true,"orders":{...}} when
  // concurrent, else empty.
  std::string BuildCustomData() const;
  // The exact submit body.
  std::string SubmitBody() const { return ToJsonWith(BuildCustomData()); }

 private:
  friend Saga NewSagaGrpc(const std::string& grpc_server, const std::string& gid,
                          const GrpcTlsOptions& tls);
  std::map<int, std::vector<int>> orders_;
};

// Go's dtmgrpc.NewSagaGrpc: a saga submitted to DTM's gRPC server `grpc_server` (host:port).
// Its steps may be gRPC URLs (host:port/pkg.Service/Method) and http(s):// URLs.
Saga NewSagaGrpc(const std::string& grpc_server, const std::string& gid,
                 const GrpcTlsOptions& tls = {});

}  // namespace lynx::dtm
