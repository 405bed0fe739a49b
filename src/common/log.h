// Logging (docs/operations.md): one spdlog logger per component of dtmd, so each has its own
// level (Log.Levels "engine=debug,http=warn" over LogLevel), written as text (default) or as one
// JSON object per line (Log.Format json: time, level, component, msg, and a transaction line's
// gid / branch_id / op / trace_id as keys; in text they lead the message: "gid X branch 01
// action: ..."). Call sites log through Log() with the transaction's fields when they have them.
// Thread-safe once configured (Configure runs at start-up, before the servers).
#pragma once

#include <spdlog/spdlog.h>

#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace lynx::log {

enum class Component { kServer, kEngine, kCron, kApi, kHttp, kGrpc, kStore, kAudit, kRetention };

// The fields of a transaction line; empty ones are left out.
struct Tx {
  std::string_view gid = {};
  std::string_view branch_id = {};
  std::string_view op = {};
  std::string_view trace_id = {};
};

// The component's logger (created with the default settings when Configure was not called).
spdlog::logger& Of(Component c);

// Checks what Configure would take, without applying it.
Status Validate(const std::string& format, const std::string& level, const std::string& levels);
// format: "text" or "json"; level: debug | info | warn | error; levels: "component=level,..."
// (components: server, engine, cron, api, http, grpc, store, audit, retention).
// InvalidArgument naming the bad part.
Status Configure(const std::string& format, const std::string& level, const std::string& levels);

// The message with the transaction's fields, as the configured format wants it.
std::string WithFields(const Tx& tx, std::string msg);

template <class... Args>
void Log(Component c, spdlog::level::level_enum level, const Tx& tx,
         fmt::format_string<Args...> format, Args&&... args) {
  spdlog::logger& logger = Of(c);
  if (!logger.should_log(level)) return;
  logger.log(level, "{}", WithFields(tx, fmt::format(format, std::forward<Args>(args)...)));
}

template <class... Args>
void Log(Component c, spdlog::level::level_enum level, fmt::format_string<Args...> format,
         Args&&... args) {
  Log(c, level, Tx{}, format, std::forward<Args>(args)...);
}

}  // namespace lynx::log
