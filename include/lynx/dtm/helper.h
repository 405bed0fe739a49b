// TransactionHelper: one call per transaction over a started DTMClient (the Go plugin's helper).
//   lynx::dtm::TransactionHelper helper(dtm);
//   std::string gid = helper.MustGenGid();
//   lynx::Status st = helper.ExecuteTCC(ctx, gid, {{.try_url = ..., .confirm_url = ...,
//                                                   .cancel_url = ..., .data = {{"n", 1}}}});
// `ctx` carries the deadline (every call, and any wait for the result, ends by it), cancellation,
// and the incoming request's headers, of which those named in pass_through_headers are sent to the
// branches (TransactionOptions::custom_headers win). With wait_result the call returns once the
// transaction finished: Ok when it succeeded, a Failure when it failed, an Ongoing status when the
// context's deadline (or 5 minutes without one) passed first.
// A transaction goes over gRPC when any of its URLs (including a msg's query_prepared) is a gRPC
// target (host:port/pkg.Service/Method, see IsGrpcTarget): it is then sent to grpc_server, which
// must be configured (else InvalidArgument), with each branch's data as the request message
// (a protobuf message converts to a Payload); its http(s):// URLs stay HTTP calls. Waiting for the
// result polls DTM's HTTP query.
// Thread-safe: one helper may run many transactions from many threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <lynx/context.h>
#include <lynx/dtm/json.h>
#include <lynx/status.h>

namespace lynx::dtm {

class DTMClient;

struct SAGABranch {
  std::string action = {};      // forward URL
  std::string compensate = {};  // compensation URL
  Payload data = {};            // body of both calls
};

struct TCCBranch {
  std::string try_url = {};
  std::string confirm_url = {};
  std::string cancel_url = {};
  Payload data = {};  // body of the try, confirm and cancel calls
};

struct XABranch {
  std::string action = {};  // the branch URL (also its phase-2 URL)
  Payload data = {};        // JSON text or value
};

struct MsgBranch {
  std::string action = {};
  Payload data = {};
};

struct TransactionOptions {
  int64_t timeout_to_fail = 60;  // seconds (timeout_to_fail of the transaction)
  int64_t branch_timeout = 30;   // seconds (request_timeout: each branch call)
  int64_t retry_interval = 10;   // seconds
  std::map<std::string, std::string> custom_headers = {};  // branch headers; win over pass-through
  bool wait_result = false;                                // return once the transaction finished
  bool concurrent = false;                                 // saga / msg steps run concurrently
};

class TransactionHelper {
 public:
  explicit TransactionHelper(const DTMClient& client) : client_(client) {}

  // A new gid; "" when the server cannot be reached (logged).
  std::string MustGenGid() const;
  StatusOr<std::string> GenGid() const;

  Status ExecuteSAGA(const Context& ctx, const std::string& gid,
                     const std::vector<SAGABranch>& branches,
                     const TransactionOptions& opts = {}) const;
  Status ExecuteTCC(const Context& ctx, const std::string& gid,
                    const std::vector<TCCBranch>& branches,
                    const TransactionOptions& opts = {}) const;
  Status ExecuteXA(const Context& ctx, const std::string& gid,
                   const std::vector<XABranch>& branches,
                   const TransactionOptions& opts = {}) const;
  Status ExecuteMsg(const Context& ctx, const std::string& gid, const std::string& query_prepared,
                    const std::vector<MsgBranch>& branches,
                    const TransactionOptions& opts = {}) const;

  // The global status: prepared | submitted | aborting | succeed | failed. NotFound for an unknown
  // gid.
  StatusOr<std::string> CheckTransactionStatus(const std::string& gid) const;
  StatusOr<std::string> CheckTransactionStatus(const Context& ctx, const std::string& gid) const;

  // Polls the status until succeed (Ok) / failed or aborting (Failure) / ctx done (Ongoing).
  Status WaitTransactionResult(const Context& ctx, const std::string& gid) const;

 private:
  const DTMClient& client_;
};

}  // namespace lynx::dtm
