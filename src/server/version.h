// dtmd's version as /api/dtmsvr/version, the console and exported spans report it: DTM's
// version it is compatible with, then dtmd's own.
#pragma once

namespace lynx::server {

inline constexpr const char* kDtmdVersion = "v1.19.0-dtmd-0.1.0";

}  // namespace lynx::server
