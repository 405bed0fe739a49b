// Internal side of include/lynx/dtm/auth.h: the token registered for a DTM server.
#pragma once

#include <string>

namespace lynx::dtm::internal {

// The token set for `server` (HTTP API base or gRPC host:port), "" when none.
std::string DtmServerToken(const std::string& server);

}  // namespace lynx::dtm::internal
