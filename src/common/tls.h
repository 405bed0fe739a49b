// TLS contexts for the HTTP server and client (Asio over OpenSSL), made in one place: the
// server's certificate, key and optional client CA (mutual TLS), and the client's trust (system
// store plus an optional CA file) with host name verification. Internal header; Asio's SSL types
// stay in the .cc files that need them (this one only forward-declares the context).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/status.h"

namespace boost::asio::ssl {
class context;
}

namespace lynx::http {

struct ServerTlsFiles {
  std::string cert_file;  // PEM chain
  std::string key_file;   // PEM private key
  std::string ca_file;    // PEM; when set, clients must present a certificate signed by it
};

// InvalidArgument naming the file when one cannot be read or does not fit.
StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    const ServerTlsFiles& files);

// Verifies servers against the system's trust store and, when non-empty, `ca_file` (PEM);
// presents `cert_file` + `key_file` (PEM) to servers that ask for a client certificate.
StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    const std::string& ca_file, const std::string& cert_file = "",
    const std::string& key_file = "");

// The server context in use; Reload() swaps in a new one made from the same files (SIGHUP),
// keeping the old one when the new files do not load. Connections keep the context they began
// with. Thread-safe.
class ServerTlsHolder {
 public:
  explicit ServerTlsHolder(ServerTlsFiles files) : files_(std::move(files)) {}
  Status Reload();
  std::shared_ptr<boost::asio::ssl::context> Get() const;

 private:
  ServerTlsFiles files_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> ctx_;
};

}  // namespace lynx::http
