// GrpcServer: DTM's gRPC API (service dtmgimp.Dtm, dtm-protocol.md §3) on GrpcPort, a thin
// front-end over Api like the HTTP one: decode -> core operation (a coroutine on dtmd's io
// threads) -> encode. Statuses map as DTM's DtmError2GrpcError: Ok -> OK, FAILURE -> ABORTED,
// ONGOING -> FAILED_PRECONDITION, bad input -> INVALID_ARGUMENT, other errors -> INTERNAL. Also
// serves the standard health service and server reflection; TLS (optionally mutual) when the
// config names a certificate. No gRPC type appears in this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/status.h"

namespace boost::asio {
class io_context;
}

namespace lynx::server {

class Api;
class Authenticator;
class Metrics;
struct ServerConfig;

class SpanExporter;

struct GrpcServerDeps {
  const ServerConfig* config = nullptr;
  Api* api = nullptr;
  Metrics* metrics = nullptr;
  const Authenticator* auth = nullptr;  // null: every method open (unit tests)
  SpanExporter* spans = nullptr;        // optional: OTLP export of request spans
};

class GrpcServer {
 public:
  GrpcServer(boost::asio::io_context& io, GrpcServerDeps deps);
  ~GrpcServer();
  // Binds address:port (0 = any free port) and starts serving. The error names the address, or
  // the TLS file that cannot be read.
  Status Start(const std::string& address, uint16_t port);
  uint16_t port() const;
  // Stops accepting and waits (bounded) for calls in flight; the io threads must still run.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lynx::server
