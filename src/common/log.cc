#include "common/log.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <array>
#include <atomic>
#include <chrono>
#include <ctime>
#include <map>
#include <memory>

namespace lynx::log {

namespace {

constexpr std::array<const char*, 9> kNames = {"server", "engine", "cron",  "api",      "http",
                                               "grpc",   "store",  "audit", "retention"};
// Marks a payload that WithFields already wrote as JSON members ("msg":...,"gid":...).
constexpr char kFragment = '\x01';

std::atomic<bool> g_json{false};

void AppendJsonString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(ch);  // UTF-8 passes through; invalid bytes are the reader's business
        }
    }
  }
  out.push_back('"');
}

// {"time":"...","level":"...","component":"...", then the payload's members or "msg":"..."}.
class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = "{\"time\":";
    const auto t = std::chrono::system_clock::to_time_t(msg.time);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[80];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count()));
    AppendJsonString(line, ts);
    line += ",\"level\":";
    const auto level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(line, std::string_view(level.data(), level.size()));
    line += ",\"component\":";
    AppendJsonString(line, std::string_view(msg.logger_name.data(), msg.logger_name.size()));
    line.push_back(',');
    std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!payload.empty() && payload.front() == kFragment) {
      line.append(payload.substr(1));
    } else {
      line += "\"msg\":";
      AppendJsonString(line, payload);
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

constexpr char kTextPattern[] = "%Y-%m-%d %H:%M:%S.%e %^%l%$ [%n] %v";

using Loggers = std::array<std::shared_ptr<spdlog::logger>, kNames.size()>;

// Created once, on first use (thread-safe static initialisation): a lookup on a hot path (every
// status change checks its level) takes no lock. Configure changes levels and formatters, which
// spdlog makes safe to change while others log.
const Loggers& AllLoggers() {
  static const Loggers loggers = [] {
    Loggers out;
    for (size_t i = 0; i < kNames.size(); ++i) {
      out[i] = std::make_shared<spdlog::logger>(
          kNames[i], std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
      out[i]->set_pattern(kTextPattern);
      out[i]->set_level(spdlog::get_level());
    }
    return out;
  }();
  return loggers;
}

}  // namespace

spdlog::logger& Of(Component c) { return *AllLoggers()[static_cast<size_t>(c)]; }

namespace {

using Levels = std::array<spdlog::level::level_enum, kNames.size()>;

// The base level and the level of each component.
Status Parse(const std::string& format, const std::string& level, const std::string& levels,
             spdlog::level::level_enum* base_out, Levels* out) {
  if (format != "text" && format != "json") {
    return Status::InvalidArgument("config key Log.Format: must be text or json, not '" + format +
                                   "'");
  }
  auto parse_level = [](const std::string& name, spdlog::level::level_enum* out) {
    static const std::map<std::string, spdlog::level::level_enum> kLevels = {
        {"debug", spdlog::level::debug},
        {"info", spdlog::level::info},
        {"warn", spdlog::level::warn},
        {"error", spdlog::level::err}};
    auto it = kLevels.find(name);
    if (it == kLevels.end()) return false;
    *out = it->second;
    return true;
  };
  spdlog::level::level_enum base = spdlog::level::info;
  if (!parse_level(level, &base)) {
    return Status::InvalidArgument("config key LogLevel: must be debug, info, warn or error");
  }
  Levels per;
  per.fill(base);
  for (size_t pos = 0; pos < levels.size();) {
    size_t end = levels.find(',', pos);
    if (end == std::string::npos) end = levels.size();
    std::string item = levels.substr(pos, end - pos);
    pos = end + 1;
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string name = item.substr(0, eq);
    size_t i = 0;
    while (i < kNames.size() && name != kNames[i]) ++i;
    spdlog::level::level_enum lvl;
    if (eq == std::string::npos || i == kNames.size() || !parse_level(item.substr(eq + 1), &lvl)) {
      return Status::InvalidArgument(
          "config key Log.Levels: '" + item +
          "' is not <component>=<debug|info|warn|error> (components: server, engine, cron, api, "
          "http, grpc, store, audit, retention)");
    }
    per[i] = lvl;
  }
  *base_out = base;
  *out = per;
  return Status::Ok();
}

}  // namespace

Status Validate(const std::string& format, const std::string& level, const std::string& levels) {
  Levels per;
  spdlog::level::level_enum base;
  return Parse(format, level, levels, &base, &per);
}

Status Configure(const std::string& format, const std::string& level, const std::string& levels) {
  Levels per;
  spdlog::level::level_enum base;
  if (Status st = Parse(format, level, levels, &base, &per); !st.ok()) return st;
  g_json = format == "json";
  spdlog::set_level(base);
  if (g_json) {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  }
  const Loggers& loggers = AllLoggers();
  for (size_t i = 0; i < kNames.size(); ++i) {
    loggers[i]->set_level(per[i]);
    if (g_json) {
      loggers[i]->set_formatter(std::make_unique<JsonFormatter>());
    } else {
      loggers[i]->set_pattern(kTextPattern);
    }
  }
  return Status::Ok();
}

std::string WithFields(const Tx& tx, std::string msg) {
  if (g_json) {
    std::string out(1, kFragment);
    out += "\"msg\":";
    AppendJsonString(out, msg);
    const std::pair<const char*, std::string_view> fields[] = {
        {"gid", tx.gid}, {"branch_id", tx.branch_id}, {"op", tx.op}, {"trace_id", tx.trace_id}};
    for (const auto& [key, value] : fields) {
      if (value.empty()) continue;
      out += ",\"";
      out += key;
      out += "\":";
      AppendJsonString(out, value);
    }
    return out;
  }
  std::string prefix;
  if (!tx.gid.empty()) prefix += "gid " + std::string(tx.gid);
  if (!tx.branch_id.empty()) prefix += " branch " + std::string(tx.branch_id);
  if (!tx.op.empty()) prefix += " " + std::string(tx.op);
  if (!tx.trace_id.empty()) prefix += " trace " + std::string(tx.trace_id);
  if (prefix.empty()) return msg;
  return prefix + ": " + msg;
}

}  // namespace lynx::log
