// Fuzz target: dtmd's configuration loader (server/config.h LoadConfigText): YAML text in, a
// validated configuration or a message naming the bad key out; never a crash or an exception.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // yaml-cpp recurses per nesting level; configs are small
  lynx::server::ServerConfig cfg;
  (void)lynx::server::LoadConfigText(std::string(reinterpret_cast<const char*>(data), size), &cfg);
  return 0;
}
