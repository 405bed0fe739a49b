// Fuzz target: the bytes of one inbound HTTP request, through the framing, limits and conversion
// dtmd's HTTP port and the SDK's HttpBranchServer apply (common/http_server.h ParseRequestBytes),
// with small limits so that the size checks are reached too.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/http_server.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lynx::http::ServerOptions options;
  options.max_body_bytes = 4096;
  options.max_header_bytes = 2048;
  auto req = lynx::http::ParseRequestBytes(
      std::string_view(reinterpret_cast<const char*>(data), size), options);
  if (req.ok() && req->body.size() > options.max_body_bytes) __builtin_trap();
  return 0;
}
