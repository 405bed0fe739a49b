// The audit log: one line per admin action (forceStop, the cron resets, topic changes, test
// control, token reloads) with the token's name and role, the peer address, what it touched and
// the outcome. Written through spdlog at info level with the prefix "audit:", so it survives any
// LogLevel but error-only... and can be filtered by that prefix.
#pragma once

#include <string_view>

#include "common/status.h"
#include "server/security/auth.h"

namespace lynx::server {

// `detail`: e.g. "gid=abc" or "topic=t url=...".
void Audit(std::string_view action, const AuthDecision& who, std::string_view peer,
           std::string_view detail, const Status& outcome);

}  // namespace lynx::server
