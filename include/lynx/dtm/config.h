// DtmConfig: the `lynx.dtm` configuration of the dtm.server plugin (lynx-dtm-plugin.md §2), with
// every key's default, and the one place that reads it from the host's configuration tree and
// validates it. Plain data; thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <lynx/config_node.h>
#include <lynx/status.h>

namespace lynx::dtm {

inline constexpr char kDefaultServerUrl[] = "http://localhost:36789/api/dtmsvr";

struct DtmConfig {
  // When false the plugin starts but does nothing and reports healthy.
  bool enabled = false;
  // DTM HTTP API base. Required (non-empty) when enabled; scheme http or https.
  std::string server_url = kDefaultServerUrl;
  // DTM gRPC address host:port (not a URL); empty: no gRPC. When set, DTMClient's New*Grpc and
  // TransactionHelper's gRPC branches use it, and start-up and health checks also probe it.
  std::string grpc_server = {};
  // Seconds. Timeout of the calls to the DTM server, and the `request_timeout` of transactions
  // created by DTMClient. 0 means the default.
  int64_t timeout = 10;
  // Seconds. `retry_interval` of transactions created by DTMClient. 0 means the default.
  int64_t retry_interval = 10;
  // Seconds. `timeout_to_fail` of transactions created by DTMClient. 0 means the default.
  int64_t transaction_timeout = 60;
  // Seconds. Per-branch call timeout used by TransactionHelper. 0 means the default.
  int64_t branch_timeout = 30;
  // Header names copied from the incoming request (lynx::Context::Headers()) to every branch
  // call. Matched case-insensitively.
  std::vector<std::string> pass_through_headers = {};
  // TLS for the gRPC connection to DTM; cert and key files (PEM, the client's certificate for
  // mutual TLS) are then required; ca_file (PEM) verifies the server, system roots when empty.
  bool grpc_tls_enabled = false;
  std::string grpc_cert_file = {};
  std::string grpc_key_file = {};
  std::string grpc_ca_file = {};
  // Bearer token sent to the DTM server (HTTP and gRPC) when it requires authentication
  // (docs/security.md). Prefer auth_token_file (the token's first line) to keep it out of the
  // configuration; set at most one of the two.
  std::string auth_token = {};
  std::string auth_token_file = {};
  // https:// server_url: a CA (PEM) trusted besides the system store, and a client certificate
  // and key (PEM) for a server that requires mutual TLS (set both or neither).
  std::string http_ca_file = {};
  std::string http_cert_file = {};
  std::string http_key_file = {};
  // Connection attempts at start-up (back-off 2 s x attempt). 0 means the default.
  int64_t max_connection_retries = 3;
};

// Replaces zero numbers by their defaults (zero means "use the default").
void ApplyDtmConfigDefaults(DtmConfig* config);

// The rules of §2. The first violation is returned as InvalidArgument whose message starts with
// the full key ("<prefix>.server_url ..."); `prefix` is the config prefix of the plugin.
Status ValidateDtmConfig(const DtmConfig& config, const std::string& prefix = "lynx.dtm");

// Registers the configured token for server_url and grpc_server and the https:// trust of the
// process's transport (include/lynx/dtm/auth.h); InvalidArgument naming the key when the token
// file or a TLS file cannot be read.
Status ApplyDtmCredentials(const DtmConfig& config, const std::string& prefix = "lynx.dtm");

// Reads `node` (the plugin's subtree, e.g. lynx.dtm) into *config: keys absent from the node keep
// their defaults, zeros become defaults, then ValidateDtmConfig. Wrong value types and failed rules
// are InvalidArgument naming the key. Unknown keys are logged and ignored.
Status LoadDtmConfig(const lynx::ConfigNode& node, DtmConfig* config);

}  // namespace lynx::dtm
