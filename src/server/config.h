// dtmd configuration: DTM's config keys (dtm-protocol.md §10) with DTM's defaults, loaded from
// environment variables first and then a YAML file (YAML wins, as in DTM), then validated.
// Keys marked "dtmd" are ours. Plain data; not thread-safe to mutate after start-up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/limits.h"

namespace lynx::server {

struct StoreConfig {
  // boltdb (DTM's default, served here by the embedded SQLite store), embedded, memory,
  // postgres (Host/Port/User/Password/Db/Schema/MaxOpenConns), redis (Host/Port/User/Password/
  // RedisPrefix/DataExpire/FinishedDataExpire/MaxOpenConns), mysql (Host/Port/User/Password/Db/
  // MaxOpenConns/ConnMaxLifeTime; MariaDB >= 10.6 or MySQL >= 8.0).
  std::string driver = "boltdb";
  std::string host;
  int64_t port = 0;
  std::string user;
  std::string password;
  std::string db = "dtm";
  std::string schema = "public";
  int64_t max_open_conns = 500;
  int64_t max_idle_conns = 500;
  int64_t conn_max_life_time = 5;  // minutes
  int64_t data_expire = 604800;    // s
  // s; retention of finished transactions on every store (0 keeps them forever), see
  // server/retention.h. On Redis it is also the TTL set when a transaction finishes, as in DTM.
  int64_t finished_data_expire = 86400;
  // s, dtmd: how long start-up waits for an unreachable store (retried every 3 s as DTM does);
  // 0 waits forever, like DTM.
  int64_t start_wait = 0;
  int64_t purge_interval = 60;  // s, dtmd: how often retention runs
  int64_t purge_batch = 500;    // dtmd: transactions deleted per store call
  std::string redis_prefix = "{a}";
  // dtmd: "dtm" (DTM's keys and JSON, the default) or "compact" (hashes; dtmd only, faster),
  // see store/redis/redis_store.h and docs/stores.md.
  std::string redis_layout = "dtm";
  std::string data_dir = "./dtmd-data";  // dtmd: directory of the embedded store
  bool fsync =
      true;  // dtmd: embedded store fsyncs every commit (turn off only for throw-away data)
};

// Authentication of API callers (Auth.*, docs/security.md). Off by default, as DTM has none.
// Tokens are never read from the YAML: from a file (Auth.TokensFile) and/or an environment
// variable named by Auth.TokensEnv, each non-comment line "<name> <role> <token>".
struct AuthConfig {
  bool enabled = false;
  std::string tokens_file;
  std::string tokens_env;
  int64_t reload_check_interval = 2;  // s: how often the tokens file is checked for changes
};

// Which branch URLs dtmd accepts and calls (BranchUrlPolicy.*, server/security/url_policy.h).
// Hosts: names ("svc.internal", "*.example.com"), addresses and CIDRs; ports: numbers or ranges.
// Empty allow lists allow everything; deny wins over allow.
struct UrlPolicyConfig {
  bool allow_unix = false;  // gRPC unix: / unix-abstract: targets
  std::vector<std::string> allow_hosts;
  std::vector<std::string> deny_hosts = {"169.254.0.0/16", "fd00:ec2::254"};
  std::vector<std::string> allow_ports;
  std::vector<std::string> deny_ports;
};

struct ServerConfig {
  StoreConfig store;
  int64_t trans_cron_interval = 3;  // s, idle poll of the cron loop
  int64_t timeout_to_fail = 35;     // s, default timeout of msg/tcc/xa
  int64_t retry_interval = 10;      // s, base retry interval and cron lease
  int64_t request_timeout = 3;      // s, server -> branch call timeout
  int64_t http_port = 36789;
  int64_t grpc_port = 36790;
  int64_t json_rpc_port = 36791;  // unused, as in DTM
  int64_t update_branch_sync = 1;
  int64_t update_branch_async_goroutine_num = 1;
  std::string log_level = "info";
  // Log.Format (text | json) and Log.Levels ("engine=debug,http=warn"): common/log.h.
  std::string log_format = "text";
  std::string log_levels;
  std::string time_zone_offset;
  int64_t config_update_interval = 3;  // s, topic map refresh
  int64_t alert_retry_limit = 3;
  std::string alert_web_hook;
  std::string admin_base_path;
  std::string grpc_service_config = R"({"loadBalancingConfig": [{"round_robin":{}}]})";
  std::string micro_service_driver = "default";
  std::string micro_service_target;
  std::string micro_service_end_point;
  std::string log_outputs = "stderr";

  // dtmd extensions.
  std::string listen_address = "0.0.0.0";
  int64_t worker_threads = 0;        // 0 = one per core
  int64_t store_threads = 64;        // threads for blocking store calls
  int64_t cron_workers = 2;          // concurrent cron passes per instance
  int64_t max_body_bytes = 4 << 20;  // request bodies above this get 413
  bool enable_test_control = false;  // /api/test/* time shift and cron hooks (never in prod)
  bool cron_enabled = true;          // background cron loop (tests may drive it by hand)
  // gRPC TLS (dtmd): with a PEM certificate and key the gRPC port serves TLS only; with a CA file
  // as well, clients must present a certificate signed by it (mutual TLS). Empty: plaintext, as
  // DTM.
  std::string grpc_cert_file;
  std::string grpc_key_file;
  std::string grpc_ca_file;
  // HTTP TLS (dtmd): with a PEM certificate and key the HTTP port serves HTTPS only; with a CA
  // file clients must present a certificate signed by it. All three re-read on SIGHUP.
  std::string http_cert_file;
  std::string http_key_file;
  std::string http_ca_file;
  // Outbound https:// branch calls verify the server's certificate against the system store and,
  // when set, this CA file (PEM) too.
  std::string branch_ca_file;
  AuthConfig auth;
  UrlPolicyConfig branch_url_policy;
  // Header values shown as "[redacted]" by /query, /all and logs (names case-insensitive); they
  // are stored and sent to branches as given.
  std::vector<std::string> redact_headers = {"Authorization", "Cookie", "Proxy-Authorization",
                                             "X-Api-Key"};
  // Branch reply bodies and error texts quoted in rollback_reason, errors and logs are cut here.
  int64_t max_quoted_reply_bytes = 512;
  // Attempt history (attempt_log.h): the newest attempts kept per (gid, branch_id, op), 0 = none
  // recorded; and the records queued for the store at most (more are dropped and counted).
  int64_t attempts_keep_per_branch = 20;
  int64_t attempts_queue_capacity = 10000;
  // Span export (tracing/span_exporter.h): OTLP/HTTP JSON to Tracing.OtlpEndpoint ("" = off).
  struct Tracing {
    std::string otlp_endpoint;
    std::string service_name = "dtmd";
    int64_t queue_capacity = 4096;
    int64_t batch_size = 512;
    int64_t flush_interval_ms = 1000;
    int64_t export_timeout_ms = 5000;
  } tracing;
  // Resource limits against hostile or buggy peers (Limits.*, docs/limits.md).
  Limits limits;
};

// Loads env (DTM names: Store.Driver -> STORE_DRIVER) then `yaml_path` (when non-empty) into
// *cfg and validates. InvalidArgument naming the bad key on error.
Status LoadConfig(const std::string& yaml_path, ServerConfig* cfg);
// The same from YAML text, without the environment (tests and the config fuzz target).
Status LoadConfigText(const std::string& yaml_text, ServerConfig* cfg);
Status ValidateConfig(const ServerConfig& cfg);

// One configuration key and its effective value (the console's server view).
struct ConfigEntry {
  enum class Kind { kText, kNumber, kBool, kList };
  std::string path;  // "Store.Driver"
  Kind kind = Kind::kText;
  std::vector<std::string> values;  // one value, or the list's items
};
// Every key with its value; secrets (passwords, the alert webhook) shown as "***".
std::vector<ConfigEntry> EffectiveConfig(const ServerConfig& cfg);

// "Store.Driver" -> "STORE_DRIVER", "MicroService.EndPoint" -> "MICRO_SERVICE_END_POINT".
std::string EnvNameOf(const std::string& key_path);

// Every key LoadConfig understands, for --help.
std::vector<std::string> KnownConfigKeys();

}  // namespace lynx::server
