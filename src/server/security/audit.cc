#include "server/security/audit.h"

#include "common/log.h"

#include <spdlog/spdlog.h>

namespace lynx::server {

void Audit(std::string_view action, const AuthDecision& who, std::string_view peer,
           std::string_view detail, const Status& outcome) {
  // warn: the audit trail stays on at LogLevel warn, the level operators pick to quiet dtmd.
  log::Log(log::Component::kAudit, spdlog::level::warn,
           "audit: action={} token={} role={} peer={} {} result={}", action, who.name,
           RoleName(who.role), peer.empty() ? "-" : peer, detail,
           outcome.ok() ? std::string("ok") : outcome.message().substr(0, 200));
}

}  // namespace lynx::server
