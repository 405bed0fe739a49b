// BranchCaller: how dtmd calls a branch URL and classifies the reply into DTM's results
// (dtm-protocol.md §4.1-4.2). The engine depends on this interface only, so unit tests inject a
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

// Real calls: HTTP(S) branches through the pooled keep-alive client.
class HttpBranchCaller : public BranchCaller {
 public:
  explicit HttpBranchCaller(http::ClientPool& pool) : pool_(pool) {}
  boost::asio::awaitable<Status> Call(const BranchCall& call) override;

 private:
  http::ClientPool& pool_;
};

using ::lynx::ClassifyHttpReply;  // DTM's HTTPResp2DtmError, common/dtm_result.h

}  // namespace lynx::server
