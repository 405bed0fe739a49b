// Fuzz target: a branch service's reply as dtmd's pooled client reads it (common/http_client.h
// ParseReplyBytes: limits, 1xx skipping) and classifies it into DTM's results
// (common/dtm_result.h ClassifyHttpReply), plus the gRPC status classification.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/dtm_result.h"
#include "common/http_client.h"

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
  return 0;
}
