#include <lynx/dtm/config.h>

#include <lynx/dtm/auth.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

namespace lynx::dtm {

namespace {

constexpr std::array<std::string_view, 18> kKnownKeys = {"enabled",
                                                         "server_url",
                                                         "grpc_server",
                                                         "timeout",
                                                         "retry_interval",
                                                         "transaction_timeout",
                                                         "branch_timeout",
                                                         "pass_through_headers",
                                                         "grpc_tls_enabled",
                                                         "grpc_cert_file",
                                                         "grpc_key_file",
                                                         "grpc_ca_file",
                                                         "max_connection_retries",
                                                         "auth_token",
                                                         "auth_token_file",
                                                         "http_ca_file",
                                                         "http_cert_file",
                                                         "http_key_file"};

// scheme "://" host: the scheme of server_url, or "" when it has no scheme or no host.
std::string SchemeOf(const std::string& url, bool* has_host) {
  *has_host = false;
  size_t colon = url.find("://");
  if (colon == std::string::npos || colon == 0) return "";
  std::string scheme = url.substr(0, colon);
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view rest = std::string_view(url).substr(colon + 3);
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  *has_host = !host.empty() && host.front() != ':';
  return scheme;
}

}  // namespace

void ApplyDtmConfigDefaults(DtmConfig* c) {
  const DtmConfig defaults;
  if (c->timeout == 0) c->timeout = defaults.timeout;
  if (c->retry_interval == 0) c->retry_interval = defaults.retry_interval;
  if (c->transaction_timeout == 0) c->transaction_timeout = defaults.transaction_timeout;
  if (c->branch_timeout == 0) c->branch_timeout = defaults.branch_timeout;
  if (c->max_connection_retries == 0) c->max_connection_retries = defaults.max_connection_retries;
}

Status ValidateDtmConfig(const DtmConfig& c, const std::string& prefix) {
  auto key = [&prefix](const char* k) {
    return prefix.empty() ? std::string(k) : prefix + "." + k;
  };
  if (c.enabled) {
    if (c.server_url.empty()) {
      return Status::InvalidArgument(key("server_url") + " is required when enabled");
    }
    bool has_host = false;
    std::string scheme = SchemeOf(c.server_url, &has_host);
    if (scheme != "http" && scheme != "https") {
      return Status::InvalidArgument(key("server_url") + " must use the http or https scheme: '" +
                                     c.server_url + "'");
    }
    if (!has_host) {
      return Status::InvalidArgument(key("server_url") + " has no host: '" + c.server_url + "'");
    }
  }
  const std::pair<const char*, int64_t> non_negative[] = {
      {"timeout", c.timeout},
      {"retry_interval", c.retry_interval},
      {"transaction_timeout", c.transaction_timeout},
      {"branch_timeout", c.branch_timeout},
      {"max_connection_retries", c.max_connection_retries},
  };
  for (const auto& [name, value] : non_negative) {
    if (value < 0) {
      return Status::InvalidArgument(key(name) + " cannot be negative (got " +
                                     std::to_string(value) + ")");
    }
  }
  // A gRPC target is host:port (a URL-looking value would only fail later, on the first call).
  if (!c.grpc_server.empty() && (c.grpc_server.find("://") != std::string::npos ||
                                 c.grpc_server.find('/') != std::string::npos)) {
    return Status::InvalidArgument(key("grpc_server") + " must be host:port, not a URL: '" +
                                   c.grpc_server + "'");
  }
  if (c.grpc_tls_enabled) {
    if (c.grpc_cert_file.empty()) {
      return Status::InvalidArgument(key("grpc_cert_file") +
                                     " is required when grpc_tls_enabled is true");
    }
    if (c.grpc_key_file.empty()) {
      return Status::InvalidArgument(key("grpc_key_file") +
                                     " is required when grpc_tls_enabled is true");
    }
  }
  if (!c.auth_token.empty() && !c.auth_token_file.empty()) {
    return Status::InvalidArgument(key("auth_token") + " and " + key("auth_token_file") +
                                   ": set at most one");
  }
  if (c.http_cert_file.empty() != c.http_key_file.empty()) {
    return Status::InvalidArgument(key("http_cert_file") + " and " + key("http_key_file") +
                                   ": set both or neither");
  }
  return Status::Ok();
}

Status ApplyDtmCredentials(const DtmConfig& c, const std::string& prefix) {
  std::string token = c.auth_token;
  if (!c.auth_token_file.empty()) {
    auto read = ReadTokenFile(c.auth_token_file);
    if (!read.ok()) {
      return Status::InvalidArgument(prefix + ".auth_token_file: " + read.status().message());
    }
    token = *read;
  }
  if (!token.empty()) {
    SetDtmServerToken(c.server_url, token);
    if (!c.grpc_server.empty()) SetDtmServerToken(c.grpc_server, token);
  }
  if (!c.http_ca_file.empty() || !c.http_cert_file.empty()) {
    if (Status st = SetDtmHttpTls(c.http_ca_file, c.http_cert_file, c.http_key_file); !st.ok()) {
      return Status::InvalidArgument(prefix + ".http_ca_file/http_cert_file: " + st.message());
    }
  }
  return Status::Ok();
}

Status LoadDtmConfig(const lynx::ConfigNode& node, DtmConfig* config) {
  DtmConfig c;
  if (node.Exists()) {
    for (const auto& k : node.Keys()) {
      if (std::find(kKnownKeys.begin(), kKnownKeys.end(), k) == kKnownKeys.end()) {
        spdlog::warn("{}.{}: unknown key, ignored", node.path(), k);
      }
    }
    Status st;
    auto read = [&](const char* key, auto* out) {
      if (st.ok()) st = node.Get(key, out);
    };
    read("enabled", &c.enabled);
    read("server_url", &c.server_url);
    read("grpc_server", &c.grpc_server);
    read("timeout", &c.timeout);
    read("retry_interval", &c.retry_interval);
    read("transaction_timeout", &c.transaction_timeout);
    read("branch_timeout", &c.branch_timeout);
    read("pass_through_headers", &c.pass_through_headers);
    read("grpc_tls_enabled", &c.grpc_tls_enabled);
    read("grpc_cert_file", &c.grpc_cert_file);
    read("grpc_key_file", &c.grpc_key_file);
    read("grpc_ca_file", &c.grpc_ca_file);
    read("max_connection_retries", &c.max_connection_retries);
    read("auth_token", &c.auth_token);
    read("auth_token_file", &c.auth_token_file);
    read("http_ca_file", &c.http_ca_file);
    read("http_cert_file", &c.http_cert_file);
    read("http_key_file", &c.http_key_file);
    if (!st.ok()) return st;
  }
  ApplyDtmConfigDefaults(&c);
  const std::string prefix = node.path().empty() ? "lynx.dtm" : node.path();
  if (Status st = ValidateDtmConfig(c, prefix); !st.ok()) return st;
  *config = std::move(c);
  return Status::Ok();
}

}  // namespace lynx::dtm
