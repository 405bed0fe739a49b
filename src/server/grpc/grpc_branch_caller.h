// GrpcBranchCaller: how dtmd calls a gRPC branch (dtm-protocol.md §3.3, §3.4, §4.4). A URL
// "host:port/pkg.Service/Method" is split at the first '/'; the stored bytes (a serialised request
// message) are sent unchanged through a generic stub, with the dtm-* metadata (dtm-dtm empty, as
// DTM) and the branch headers, under the branch call timeout; the reply bytes are ignored. One
// channel per target is created on first use and kept (keep-alive HTTP/2, many calls multiplexed).
// The reply status is judged as DTM's GrpcError2DtmError. Thread-safe; no gRPC type in this header.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <memory>
#include <string>

#include "common/status.h"

namespace lynx::server {

struct BranchCall;

class GrpcBranchCaller {
 public:
  // `service_config_json`: the channels' default service config (GrpcServiceConfig).
  explicit GrpcBranchCaller(std::string service_config_json);
  ~GrpcBranchCaller();
  boost::asio::awaitable<Status> Call(const BranchCall& call);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// DTM's GrpcError2DtmError over a (code, message) pair: OK -> Ok, ABORTED -> Failure (message
// exactly "ONGOING" -> Ongoing, for pre-1.10 servers), FAILED_PRECONDITION -> Ongoing, anything
// else a retryable error naming the code.
Status ClassifyGrpcReply(int code, const std::string& message, const std::string& url);

// Splits "host:port/pkg.Service/Method" into target and "/pkg.Service/Method"; InvalidArgument
// for a URL with "://" or without '/'.
Status SplitGrpcUrl(const std::string& url, std::string* target, std::string* method);

}  // namespace lynx::server
