// Inbound HTTP/1.1 server: one coroutine per keep-alive connection on an io_context (no thread
// per request), request parsing with body and header limits (413 / 400 answered here), and a
// coroutine handler per request. dtmd's API and the SDK's branch-handler server are built on it.
// Internal header (Asio types); include it only from the .cc files of servers.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace lynx::http {

struct ServerRequest {
  std::string peer;  // the client's address:port
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;    // decoded; the last value of a repeated key
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

struct ServerReply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers = {};  // extra reply headers
};

// A JSON error body {"message": text}.
ServerReply JsonMessage(int status, const std::string& text);

struct ServerOptions {
  uint64_t max_body_bytes = 4 << 20;  // larger bodies: 413
  int idle_timeout_seconds = 120;     // idle keep-alive connections close
  // Header section (and chunked trailer section) of one request; larger: 431. At most
  // kMaxHeaderSectionBytes (common/http_limits.h).
  uint32_t max_header_bytes = 32 * 1024;
  // Request bodies being received and replies over 64 KiB waiting to be written, over all
  // connections together (a body with a Content-Length counts that length, a chunked one
  // max_body_bytes); a body or reply that would exceed it is answered 503 instead.
  uint64_t max_buffered_bytes = 256 << 20;
  // Connections open at once; at the cap accepting pauses (new ones wait in the backlog).
  int64_t max_connections = 10000;
  // HTTPS: the TLS context for a new connection (a holder may swap it on reload); empty or
  // returning null serves plain HTTP.
  std::function<std::shared_ptr<boost::asio::ssl::context>()> tls = {};
};

using ServerHandler = std::function<boost::asio::awaitable<ServerReply>(ServerRequest&)>;

// What the server does with the bytes of one request, without a socket: the same parser limits,
// framing checks and conversion. The request, or the error reply the server would send. For the
// fuzz target (fuzz/) and tests.
StatusOr<ServerRequest> ParseRequestBytes(std::string_view bytes, const ServerOptions& options);

class Server {
 public:
  Server(boost::asio::io_context& io, ServerOptions options, ServerHandler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds address:port (port 0 = any free port). The error names the address.
  Status Listen(const std::string& address, uint16_t port);
  uint16_t port() const;
  void Start();  // starts accepting (connections run on the io_context's threads)
  // Stops accepting; open connections end with their current request. Call it from the
  // io_context's thread, or after the io_context stopped running.
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace lynx::http
