// HttpServer: DTM's HTTP API on HttpPort (dtm-protocol.md §2), a thin front-end over Api:
// decode -> core operation -> encode. One coroutine per connection (keep-alive), no thread per
// request. Also /api/ping, /api/metrics and, when enabled, the test-only /api/test/* control.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace lynx {
class SystemClock;
}

namespace lynx::server {

class Api;
class Authenticator;
class Engine;
class SpanExporter;
class Redactor;
class Metrics;
class Retention;
struct ServerConfig;

struct HttpServerDeps {
  const ServerConfig* config = nullptr;
  Api* api = nullptr;
  Engine* engine = nullptr;
  Metrics* metrics = nullptr;
  SystemClock* test_clock = nullptr;    // set only when test control is enabled
  Retention* retention = nullptr;       // for the purgeOnce test hook
  const Authenticator* auth = nullptr;  // null: every route open (unit tests)
  const Redactor* redactor = nullptr;   // secret header values in /query and /all
  SpanExporter* spans = nullptr;        // optional: OTLP export of request spans
  // HTTPS: the TLS context of each new connection (null: plain HTTP).
  std::function<std::shared_ptr<boost::asio::ssl::context>()> tls;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, HttpServerDeps deps);
  ~HttpServer();
  // Binds address:port (port 0 = any free port). Error names the address on failure.
  Status Listen(const std::string& address, uint16_t port);
  uint16_t port() const;
  void Start();  // starts accepting
  void Stop();   // stops accepting

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace lynx::server
