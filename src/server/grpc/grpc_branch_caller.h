// GrpcBranchCaller: how dtmd calls a gRPC branch (dtm-protocol.md §3.3, §3.4, §4.4). A URL
// "host:port/pkg.Service/Method" is split at the first '/'; the stored bytes (a serialised request
// message) are sent unchanged through a generic stub, with the dtm-* metadata (dtm-dtm empty, as
// DTM) and the branch headers, under the branch call timeout; the reply bytes are ignored. One
// channel per target is created on first use and kept (keep-alive HTTP/2, many calls multiplexed)
// while it is used: at most max_channels are kept (least recently used closed first) and one idle
// for idle_seconds is closed. Metadata gRPC would refuse (it aborts the process on it) is checked
// before the call: such a call fails as a retryable error for its transaction alone.
// The reply status is judged as DTM's GrpcError2DtmError. Thread-safe; no gRPC type in this header.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace lynx::server {

struct BranchCall;

struct GrpcChannelOptions {
  std::string service_config;  // the channels' default service config (GrpcServiceConfig)
  size_t max_channels = 256;   // Limits.MaxGrpcChannels
  int64_t idle_seconds = 300;  // Limits.GrpcChannelIdle
  // When set (the branch-URL policy), dtmd resolves a host:port target itself, judges every
  // address, and connects the channel to exactly those addresses (ipv4:/ipv6: target, authority
  // kept as host:port), so that gRPC's own resolver cannot reach a refused address later.
  // Resolutions are reused for resolve_ttl_seconds.
  std::function<Status(const std::string& host, const std::string& address, uint16_t port)>
      address_check;
  int64_t resolve_ttl_seconds = 30;
};

class GrpcBranchCaller {
 public:
  explicit GrpcBranchCaller(GrpcChannelOptions options);
  ~GrpcBranchCaller();
  boost::asio::awaitable<Status> Call(const BranchCall& call);
  size_t CachedChannels() const;

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

// Whether gRPC accepts this as custom metadata: a key of [0-9a-z_.-] (not "grpc-*", not ending
// in "-bin") and a value of printable ASCII. gRPC aborts the process on anything else.
bool IsValidGrpcMetadata(const std::string& key, const std::string& value);

}  // namespace lynx::server
