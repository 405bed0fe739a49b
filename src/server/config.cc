#include "server/config.h"

#include "common/log.h"

#include "common/http_limits.h"
#include "server/security/url_policy.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <functional>
#include <map>
#include <set>

namespace lynx::server {
namespace {

// One configuration key: its DTM path and how to assign a textual value to the struct.
struct Key {
  std::string path;
  std::function<Status(const std::string&)> set;
  bool list = false;  // a YAML sequence of scalars, or one comma-separated string (env)
  std::function<ConfigEntry()> show;  // the current value, for the console's server view
};

// "a, b,c" -> {"a", "b", "c"}; empty items dropped.
std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    const size_t b = item.find_first_not_of(" \t");
    const size_t e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    start = end + 1;
  }
  return out;
}

Status ParseInt(const std::string& key, const std::string& text, int64_t* out) {
  char* end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno != 0) {
    return Status::InvalidArgument("config key " + key + ": '" + text + "' is not an integer");
  }
  *out = v;
  return Status::Ok();
}

Status ParseBool(const std::string& key, const std::string& text, bool* out) {
  std::string t;
  for (char c : text) t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (t == "true" || t == "1" || t == "yes" || t == "on") {
    *out = true;
  } else if (t == "false" || t == "0" || t == "no" || t == "off") {
    *out = false;
  } else {
    return Status::InvalidArgument("config key " + key + ": '" + text + "' is not a boolean");
  }
  return Status::Ok();
}

std::vector<Key> Keys(ServerConfig* c) {
  std::vector<Key> keys;
  using Kind = ConfigEntry::Kind;
  auto str = [&](std::string path, std::string* p) {
    keys.push_back({path,
                    [p](const std::string& v) {
                      *p = v;
                      return Status::Ok();
                    },
                    false,
                    [path, p] {
                      return ConfigEntry{path, Kind::kText, {*p}};
                    }});
  };
  auto num = [&](std::string path, int64_t* p) {
    keys.push_back({path, [path, p](const std::string& v) { return ParseInt(path, v, p); }, false,
                    [path, p] {
                      return ConfigEntry{path, Kind::kNumber, {std::to_string(*p)}};
                    }});
  };
  auto boolean = [&](std::string path, bool* p) {
    keys.push_back({path, [path, p](const std::string& v) { return ParseBool(path, v, p); }, false,
                    [path, p] {
                      return ConfigEntry{path, Kind::kBool, {*p ? "true" : "false"}};
                    }});
  };
  auto list = [&](std::string path, std::vector<std::string>* p) {
    keys.push_back({path,
                    [p](const std::string& v) {
                      *p = SplitList(v);
                      return Status::Ok();
                    },
                    true,
                    [path, p] {
                      return ConfigEntry{path, Kind::kList, *p};
                    }});
  };
  str("Store.Driver", &c->store.driver);
  str("Store.Host", &c->store.host);
  num("Store.Port", &c->store.port);
  str("Store.User", &c->store.user);
  str("Store.Password", &c->store.password);
  str("Store.Db", &c->store.db);
  str("Store.Schema", &c->store.schema);
  num("Store.MaxOpenConns", &c->store.max_open_conns);
  num("Store.MaxIdleConns", &c->store.max_idle_conns);
  num("Store.ConnMaxLifeTime", &c->store.conn_max_life_time);
  num("Store.DataExpire", &c->store.data_expire);
  num("Store.FinishedDataExpire", &c->store.finished_data_expire);
  num("Store.StartWait", &c->store.start_wait);
  num("Store.PurgeInterval", &c->store.purge_interval);
  num("Store.PurgeBatch", &c->store.purge_batch);
  str("Store.RedisPrefix", &c->store.redis_prefix);
  str("Store.RedisLayout", &c->store.redis_layout);
  str("Store.DataDir", &c->store.data_dir);
  boolean("Store.Fsync", &c->store.fsync);
  num("TransCronInterval", &c->trans_cron_interval);
  num("TimeoutToFail", &c->timeout_to_fail);
  num("RetryInterval", &c->retry_interval);
  num("RequestTimeout", &c->request_timeout);
  num("HttpPort", &c->http_port);
  num("GrpcPort", &c->grpc_port);
  num("JsonRpcPort", &c->json_rpc_port);
  num("UpdateBranchSync", &c->update_branch_sync);
  num("UpdateBranchAsyncGoroutineNum", &c->update_branch_async_goroutine_num);
  str("LogLevel", &c->log_level);
  str("Log.Format", &c->log_format);
  str("Log.Levels", &c->log_levels);
  str("Log.Outputs", &c->log_outputs);
  str("TimeZoneOffset", &c->time_zone_offset);
  num("ConfigUpdateInterval", &c->config_update_interval);
  num("AlertRetryLimit", &c->alert_retry_limit);
  str("AlertWebHook", &c->alert_web_hook);
  str("AdminBasePath", &c->admin_base_path);
  str("GrpcServiceConfig", &c->grpc_service_config);
  str("MicroService.Driver", &c->micro_service_driver);
  str("MicroService.Target", &c->micro_service_target);
  str("MicroService.EndPoint", &c->micro_service_end_point);
  str("ListenAddress", &c->listen_address);
  num("WorkerThreads", &c->worker_threads);
  num("StoreThreads", &c->store_threads);
  num("CronWorkers", &c->cron_workers);
  num("MaxBodyBytes", &c->max_body_bytes);
  boolean("EnableTestControl", &c->enable_test_control);
  boolean("CronEnabled", &c->cron_enabled);
  str("GrpcCertFile", &c->grpc_cert_file);
  str("GrpcKeyFile", &c->grpc_key_file);
  str("GrpcCaFile", &c->grpc_ca_file);
  str("HttpCertFile", &c->http_cert_file);
  str("HttpKeyFile", &c->http_key_file);
  str("HttpCaFile", &c->http_ca_file);
  str("BranchCaFile", &c->branch_ca_file);
  boolean("Auth.Enabled", &c->auth.enabled);
  str("Auth.TokensFile", &c->auth.tokens_file);
  str("Auth.TokensEnv", &c->auth.tokens_env);
  num("Auth.ReloadCheckInterval", &c->auth.reload_check_interval);
  UrlPolicyConfig& u = c->branch_url_policy;
  boolean("BranchUrlPolicy.AllowUnix", &u.allow_unix);
  list("BranchUrlPolicy.AllowHosts", &u.allow_hosts);
  list("BranchUrlPolicy.DenyHosts", &u.deny_hosts);
  list("BranchUrlPolicy.AllowPorts", &u.allow_ports);
  list("BranchUrlPolicy.DenyPorts", &u.deny_ports);
  list("Redaction.Headers", &c->redact_headers);
  num("Redaction.MaxQuotedReplyBytes", &c->max_quoted_reply_bytes);
  num("Attempts.KeepPerBranch", &c->attempts_keep_per_branch);
  num("Attempts.QueueCapacity", &c->attempts_queue_capacity);
  str("Tracing.OtlpEndpoint", &c->tracing.otlp_endpoint);
  str("Tracing.ServiceName", &c->tracing.service_name);
  num("Tracing.QueueCapacity", &c->tracing.queue_capacity);
  num("Tracing.BatchSize", &c->tracing.batch_size);
  num("Tracing.FlushIntervalMs", &c->tracing.flush_interval_ms);
  num("Tracing.ExportTimeoutMs", &c->tracing.export_timeout_ms);
  Limits& l = c->limits;
  num("Limits.MaxBranches", &l.max_branches);
  num("Limits.MaxTopicSubscribers", &l.max_topic_subscribers);
  num("Limits.MaxPageSize", &l.max_page_size);
  num("Limits.MaxBranchHeaderBytes", &l.max_branch_header_bytes);
  num("Limits.MaxHttpHeaderBytes", &l.max_http_header_bytes);
  num("Limits.MaxBufferedBytes", &l.max_buffered_bytes);
  num("Limits.MaxConnections", &l.max_connections);
  num("Limits.MaxReplyBytes", &l.max_reply_bytes);
  num("Limits.MaxConnsPerTarget", &l.max_conns_per_target);
  num("Limits.MaxOutboundConns", &l.max_outbound_conns);
  num("Limits.MaxGrpcChannels", &l.max_grpc_channels);
  num("Limits.GrpcChannelIdle", &l.grpc_channel_idle);
  return keys;
}

// Keys DTM accepts but dtmd does not use; accepted silently so DTM config files load unchanged.
const std::set<std::string>& IgnoredPrefixes() {
  static const std::set<std::string> k = {"HttpMicroService", "Log", "ExamplesDB"};
  return k;
}

// Config keys are at most three levels deep; deeper maps stop here and are reported as a
// non-scalar value (no recursion on hostile nesting).
void Flatten(const YAML::Node& node, const std::string& prefix,
             std::map<std::string, YAML::Node>* out, int depth = 0) {
  if (node.IsMap() && depth < 4) {
    for (const auto& kv : node) {
      std::string key = kv.first.as<std::string>();
      Flatten(kv.second, prefix.empty() ? key : prefix + "." + key, out, depth + 1);
    }
  } else {
    (*out)[prefix] = node;
  }
}

}  // namespace

std::vector<ConfigEntry> EffectiveConfig(const ServerConfig& cfg) {
  ServerConfig copy = cfg;  // Keys binds to a mutable config; nothing is assigned here
  std::vector<ConfigEntry> out;
  for (const Key& k : Keys(&copy)) {
    ConfigEntry e = k.show();
    // Passwords and the alert webhook (its URL often carries a token) are never shown.
    const bool secret = k.path.find("Password") != std::string::npos || k.path == "AlertWebHook";
    if (secret) {
      for (auto& v : e.values) {
        if (!v.empty()) v = "***";
      }
    }
    out.push_back(std::move(e));
  }
  return out;
}

std::string EnvNameOf(const std::string& key_path) {
  std::string out;
  for (size_t i = 0; i < key_path.size(); ++i) {
    char ch = key_path[i];
    if (ch == '.' || ch == '_') {
      out += '_';
      continue;
    }
    bool upper = std::isupper(static_cast<unsigned char>(ch));
    if (upper && i > 0) {
      char prev = key_path[i - 1];
      if (std::islower(static_cast<unsigned char>(prev)) ||
          std::isdigit(static_cast<unsigned char>(prev))) {
        out += '_';
      }
    }
    out += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

std::vector<std::string> KnownConfigKeys() {
  ServerConfig c;
  std::vector<std::string> out;
  for (const auto& k : Keys(&c)) out.push_back(k.path);
  return out;
}

namespace {

// Applies the keys of a parsed YAML document; `origin` names it in errors.
Status ApplyYaml(const YAML::Node& root, const std::string& origin, const std::vector<Key>& keys) {
  if (!root.IsNull() && !root.IsMap()) {
    return Status::InvalidArgument("config file " + origin + ": top level must be a mapping");
  }
  std::map<std::string, YAML::Node> flat;
  if (root.IsMap()) Flatten(root, "", &flat);
  std::map<std::string, const Key*> by_path;
  for (const auto& k : keys) by_path[k.path] = &k;
  for (const auto& [path, node] : flat) {
    auto it = by_path.find(path);
    if (it == by_path.end()) {
      std::string head = path.substr(0, path.find('.'));
      if (IgnoredPrefixes().count(head)) continue;
      return Status::InvalidArgument("config file " + origin + ": unknown key " + path);
    }
    if (node.IsSequence() && it->second->list) {
      std::string joined;
      for (const auto& item : node) {
        if (!item.IsScalar()) {
          return Status::InvalidArgument("config key " + path + " must be a list of scalars");
        }
        if (item.Scalar().find(',') != std::string::npos) {
          return Status::InvalidArgument("config key " + path + ": item '" + item.Scalar() +
                                         "' must not contain a comma");
        }
        joined += (joined.empty() ? "" : ",") + item.Scalar();
      }
      if (Status st = it->second->set(joined); !st.ok()) return st;
      continue;
    }
    if (!node.IsScalar()) {
      if (node.IsNull()) continue;
      return Status::InvalidArgument("config key " + path + " must be a scalar value");
    }
    Status st = it->second->set(node.Scalar());
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

}  // namespace

Status LoadConfig(const std::string& yaml_path, ServerConfig* cfg) {
  auto keys = Keys(cfg);
  for (const auto& k : keys) {
    if (const char* v = std::getenv(EnvNameOf(k.path).c_str()); v != nullptr) {
      Status st = k.set(v);
      if (!st.ok())
        return Status::InvalidArgument(st.message() + " (from env " + EnvNameOf(k.path) + ")");
    }
  }
  if (!yaml_path.empty()) {
    YAML::Node root;
    try {
      root = YAML::LoadFile(yaml_path);
      if (Status st = ApplyYaml(root, yaml_path, keys); !st.ok()) return st;
    } catch (const YAML::Exception& e) {
      return Status::InvalidArgument("config file " + yaml_path + ": " + e.what());
    }
  }
  return ValidateConfig(*cfg);
}

Status LoadConfigText(const std::string& yaml_text, ServerConfig* cfg) {
  auto keys = Keys(cfg);
  try {
    if (Status st = ApplyYaml(YAML::Load(yaml_text), "<text>", keys); !st.ok()) return st;
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(std::string("config text: ") + e.what());
  }
  return ValidateConfig(*cfg);
}

Status ValidateConfig(const ServerConfig& c) {
  auto bad = [](const std::string& m) { return Status::InvalidArgument(m); };
  if (c.retry_interval < 10) return bad("config key RetryInterval: should not be less than 10");
  if (c.timeout_to_fail < c.retry_interval) {
    return bad("config key TimeoutToFail: should not be less than RetryInterval");
  }
  if (c.request_timeout <= 0) return bad("config key RequestTimeout: must be positive");
  if (c.trans_cron_interval <= 0) return bad("config key TransCronInterval: must be positive");
  if (c.config_update_interval <= 0)
    return bad("config key ConfigUpdateInterval: must be positive");
  if (c.http_port < 0 || c.http_port > 65535) return bad("config key HttpPort: not a valid port");
  if (c.grpc_port < 0 || c.grpc_port > 65535) return bad("config key GrpcPort: not a valid port");
  if (c.grpc_cert_file.empty() != c.grpc_key_file.empty()) {
    return bad("config key GrpcCertFile/GrpcKeyFile: set both or neither");
  }
  if (!c.grpc_ca_file.empty() && c.grpc_cert_file.empty()) {
    return bad("config key GrpcCaFile: needs GrpcCertFile and GrpcKeyFile (TLS)");
  }
  if (c.http_cert_file.empty() != c.http_key_file.empty()) {
    return bad("config key HttpCertFile/HttpKeyFile: set both or neither");
  }
  if (!c.http_ca_file.empty() && c.http_cert_file.empty()) {
    return bad("config key HttpCaFile: needs HttpCertFile and HttpKeyFile (TLS)");
  }
  if (c.auth.enabled && c.auth.tokens_file.empty() && c.auth.tokens_env.empty()) {
    return bad("config key Auth.Enabled: needs Auth.TokensFile or Auth.TokensEnv");
  }
  if (c.enable_test_control && !IsLoopbackAddress(c.listen_address)) {
    return bad(
        "--enable-test-control (EnableTestControl) moves dtmd's clock and runs cron passes "
        "for anyone who asks: it needs ListenAddress on loopback (127.0.0.1 or ::1), not '" +
        c.listen_address + "'");
  }
  if (c.auth.reload_check_interval <= 0) {
    return bad("config key Auth.ReloadCheckInterval: must be positive");
  }
  if (c.attempts_keep_per_branch < 0 || c.attempts_keep_per_branch > 1000) {
    return bad("config key Attempts.KeepPerBranch: must be between 0 (off) and 1000");
  }
  if (c.attempts_queue_capacity < 1 || c.attempts_queue_capacity > 10'000'000) {
    return bad("config key Attempts.QueueCapacity: must be between 1 and 10000000");
  }
  if (const auto& e = c.tracing.otlp_endpoint;
      !e.empty() && e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0) {
    return bad("config key Tracing.OtlpEndpoint: must be an http:// or https:// URL (OTLP/HTTP)");
  }
  if (c.tracing.service_name.empty() || c.tracing.service_name.size() > 128) {
    return bad("config key Tracing.ServiceName: must be 1 to 128 characters");
  }
  if (c.tracing.queue_capacity < 1 || c.tracing.queue_capacity > 1'000'000) {
    return bad("config key Tracing.QueueCapacity: must be between 1 and 1000000");
  }
  if (c.tracing.batch_size < 1 || c.tracing.batch_size > 10'000) {
    return bad("config key Tracing.BatchSize: must be between 1 and 10000");
  }
  if (c.tracing.flush_interval_ms < 10 || c.tracing.flush_interval_ms > 60'000) {
    return bad("config key Tracing.FlushIntervalMs: must be between 10 and 60000");
  }
  if (c.tracing.export_timeout_ms < 100 || c.tracing.export_timeout_ms > 60'000) {
    return bad("config key Tracing.ExportTimeoutMs: must be between 100 and 60000");
  }
  if (c.max_quoted_reply_bytes < 64) {
    return bad("config key Redaction.MaxQuotedReplyBytes: must be at least 64");
  }
  if (auto policy = UrlPolicy::Make(c.branch_url_policy); !policy.ok()) {
    return policy.status();
  }
  for (const auto& name : c.redact_headers) {
    if (name.empty() || name.find_first_of(" \t:") != std::string::npos) {
      return bad("config key Redaction.Headers: '" + name + "' is not a header name");
    }
  }
  if (c.worker_threads < 0) return bad("config key WorkerThreads: must not be negative");
  if (c.store_threads <= 0) return bad("config key StoreThreads: must be positive");
  if (c.cron_workers < 0) return bad("config key CronWorkers: must not be negative");
  if (c.max_body_bytes < 1024) return bad("config key MaxBodyBytes: must be at least 1024");
  if (c.store.finished_data_expire < 0)
    return bad("config key Store.FinishedDataExpire: must not be negative (0 keeps forever)");
  if (c.store.redis_layout != "dtm" && c.store.redis_layout != "compact") {
    return bad("config key Store.RedisLayout: '" + c.store.redis_layout +
               "' is not one of dtm, compact");
  }
  if (c.store.start_wait < 0) return bad("config key Store.StartWait: must not be negative");
  if (c.store.purge_interval <= 0) return bad("config key Store.PurgeInterval: must be positive");
  if (c.store.purge_batch <= 0) return bad("config key Store.PurgeBatch: must be positive");
  const Limits& l = c.limits;
  for (auto [key, v] : {std::pair{"MaxBranches", l.max_branches},
                        {"MaxTopicSubscribers", l.max_topic_subscribers},
                        {"MaxPageSize", l.max_page_size},
                        {"MaxBranchHeaderBytes", l.max_branch_header_bytes},
                        {"MaxBufferedBytes", l.max_buffered_bytes},
                        {"MaxConnections", l.max_connections},
                        {"MaxReplyBytes", l.max_reply_bytes},
                        {"MaxConnsPerTarget", l.max_conns_per_target},
                        {"MaxOutboundConns", l.max_outbound_conns},
                        {"MaxGrpcChannels", l.max_grpc_channels},
                        {"GrpcChannelIdle", l.grpc_channel_idle}}) {
    if (v <= 0) return bad(std::string("config key Limits.") + key + ": must be positive");
  }
  // Beast stores a header field in at most 64 KiB; the section limit keeps every field below it.
  if (l.max_http_header_bytes < 1024 || l.max_http_header_bytes > http::kMaxHeaderSectionBytes)
    return bad("config key Limits.MaxHttpHeaderBytes: must be between 1024 and " +
               std::to_string(http::kMaxHeaderSectionBytes));
  if (l.max_buffered_bytes < c.max_body_bytes)
    return bad("config key Limits.MaxBufferedBytes: must not be less than MaxBodyBytes");
  const std::string& d = c.store.driver;
  if (d == "boltdb" || d == "embedded" || d == "sqlite") {
    if (c.store.data_dir.empty()) return bad("config key Store.DataDir: must not be empty");
  } else if (d == "memory") {
  } else if (d == "postgres" || d == "mysql") {
    // DTM's own checks for a SQL store ("Db host not valid", "Db port not valid", "Db user not
    // valid").
    if (c.store.host.empty()) return bad("config key Store.Host: Db host not valid (empty)");
    if (c.store.port <= 0 || c.store.port > 65535)
      return bad("config key Store.Port: Db port not valid");
    if (c.store.user.empty()) return bad("config key Store.User: Db user not valid (empty)");
    if (d == "postgres" && c.store.schema.empty())
      return bad("config key Store.Schema: must not be empty");
  } else if (d == "redis") {
    // DTM's checks ("Redis host not valid", "Redis port not valid"), plus no cluster lists.
    if (c.store.host.empty()) return bad("config key Store.Host: Redis host not valid (empty)");
    if (c.store.host.find(',') != std::string::npos)
      return bad("config key Store.Host: Redis Cluster host lists are not supported by dtmd");
    if (c.store.port <= 0 || c.store.port > 65535)
      return bad("config key Store.Port: Redis port not valid");
  } else if (d == "sqlserver") {
    return bad("config key Store.Driver: '" + d +
               "' is not available in this dtmd build (use boltdb/embedded or memory)");
  } else {
    return bad("config key Store.Driver: unknown driver '" + d + "'");
  }
  if (!c.time_zone_offset.empty()) {
    int64_t hours = 0;
    if (!ParseInt("TimeZoneOffset",
                  c.time_zone_offset[0] == '+' ? c.time_zone_offset.substr(1) : c.time_zone_offset,
                  &hours)
             .ok() ||
        hours < -12 || hours > 14) {
      return bad("config key TimeZoneOffset: must be whole hours such as +8 or -5");
    }
  }
  return lynx::log::Validate(c.log_format, c.log_level, c.log_levels);
}

}  // namespace lynx::server
