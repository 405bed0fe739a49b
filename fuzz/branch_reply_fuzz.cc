// Fuzz target: a branch service's reply as dtmd's pooled client reads it (common/http_client.h
// ParseReplyBytes: limits, 1xx skipping) and classifies it into DTM's results
// (common/dtm_result.h ClassifyHttpReply), the JSON-RPC verdict on it (server/json_rpc_branch.h),
// and the JSON-RPC request built from a stored payload.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/dtm_result.h"
#include "common/http_client.h"
#include "server/branch_caller.h"
#include "server/json_rpc_branch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto reply = lynx::http::ParseReplyBytes(bytes, 4096);
  if (reply.ok()) {
    if (reply->body.size() > 4096) __builtin_trap();
    (void)lynx::ClassifyHttpReply(reply->status, reply->body);
  }
  // The body alone, with every status class.
  for (int status : {200, 409, 425, 500}) {
    (void)lynx::ClassifyHttpReply(status, std::string(bytes));
  }
  (void)lynx::server::ClassifyJsonRpcReply(bytes);
  lynx::server::BranchCall call;
  call.protocol = "json-rpc";
  call.url = "http://busi/api?method=" + std::string(bytes.substr(0, 64));
  call.body = std::string(bytes);
  (void)lynx::server::JsonRpcBranchBody(call, "id");
  return 0;
}
