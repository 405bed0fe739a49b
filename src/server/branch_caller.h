// BranchCaller: how dtmd calls a branch URL and classifies the reply into DTM's results
// (dtm-protocol.md §4.1-4.4). The engine depends on this interface only, so unit tests inject a
// scripted caller. Implementations are thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/dtm_result.h"
#include "common/status.h"

namespace lynx::http {
class ClientPool;
}

namespace lynx::server {

struct BranchCall {
  std::string protocol;  // http / grpc / json-rpc (of the global transaction)
  std::string url;       // the branch URL as registered
  std::string gid;
  std::string trans_type;
  std::string branch_id;
  std::string op;
  std::string body;  // sent verbatim; empty means no body
  const std::map<std::string, std::string>* headers = nullptr;  // branch_headers
  int64_t timeout_ms = 3000;
  // Set, when not null, to the reply's HTTP status or gRPC code (left alone when no reply came).
  int64_t* reply_code = nullptr;
  // Sent besides branch_headers (HTTP headers / gRPC metadata): the call's W3C trace context.
  std::vector<std::pair<std::string, std::string>> trace_headers = {};
};

class BranchCaller {
 public:
  virtual ~BranchCaller() = default;
  // kOk = success, kFailure = FAILURE, kOngoing = ONGOING, anything else = retryable error.
  virtual boost::asio::awaitable<Status> Call(const BranchCall& call) = 0;
};

class GrpcBranchCaller;
class UrlPolicy;

// Real calls, transport chosen as DTM's getURLResult: an empty URL succeeds without a call;
// HTTP when the transaction's protocol is http or the URL starts with http:// or https:// (so a
// gRPC transaction may have HTTP steps), through the pooled keep-alive client; gRPC otherwise.
// Every URL passes the branch-URL policy first (stored rows may predate it; the resolved
// addresses are checked by the HTTP client and the gRPC caller), and error texts quoted from a
// reply are cut to `max_quoted_bytes` (Redaction.MaxQuotedReplyBytes).
class NetBranchCaller : public BranchCaller {
 public:
  NetBranchCaller(http::ClientPool& pool, GrpcBranchCaller& grpc, const UrlPolicy* policy = nullptr,
                  size_t max_quoted_bytes = 512);
  boost::asio::awaitable<Status> Call(const BranchCall& call) override;

 private:
  boost::asio::awaitable<Status> CallHttp(const BranchCall& call);
  boost::asio::awaitable<Status> CallJsonRpc(const BranchCall& call);  // json_rpc_branch.h
  boost::asio::awaitable<Status> Dispatch(const BranchCall& call);

  http::ClientPool& pool_;
  GrpcBranchCaller& grpc_;
  const UrlPolicy* policy_;
  size_t max_quoted_bytes_;
  // The policy's check of each resolved address (http::AddressCheck), empty without a policy.
  std::function<Status(const std::string&, const std::string&, uint16_t)> address_check_;
};

// The branch-URL policy's call-time check of one resolved address of host:port, as the HTTP
// client and the gRPC caller take it.
std::function<Status(const std::string&, const std::string&, uint16_t)> PolicyAddressCheck(
    const UrlPolicy& policy);

using ::lynx::ClassifyHttpReply;  // DTM's HTTPResp2DtmError, common/dtm_result.h

}  // namespace lynx::server
