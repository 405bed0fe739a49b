// BranchCaller: how dtmd calls a branch URL and classifies the reply into DTM's results
// (dtm-protocol.md §4.1-4.4). The engine depends on this interface only, so unit tests inject a
// scripted caller. Implementations are thread-safe.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <map>
#include <string>

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
};

class BranchCaller {
 public:
  virtual ~BranchCaller() = default;
  // kOk = success, kFailure = FAILURE, kOngoing = ONGOING, anything else = retryable error.
  virtual boost::asio::awaitable<Status> Call(const BranchCall& call) = 0;
};

class GrpcBranchCaller;

// Real calls, transport chosen as DTM's getURLResult: an empty URL succeeds without a call;
// HTTP when the transaction's protocol is http or the URL starts with http:// or https:// (so a
// gRPC transaction may have HTTP steps), through the pooled keep-alive client; gRPC otherwise.
class NetBranchCaller : public BranchCaller {
 public:
  NetBranchCaller(http::ClientPool& pool, GrpcBranchCaller& grpc) : pool_(pool), grpc_(grpc) {}
  boost::asio::awaitable<Status> Call(const BranchCall& call) override;

 private:
  boost::asio::awaitable<Status> CallHttp(const BranchCall& call);

  http::ClientPool& pool_;
  GrpcBranchCaller& grpc_;
};

using ::lynx::ClassifyHttpReply;  // DTM's HTTPResp2DtmError, common/dtm_result.h

}  // namespace lynx::server
