// Server: assembles dtmd from its parts (store, engine, API, HTTP front-end, cron, topic
// refresh) and runs them on a small pool of network threads. One per process.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "server/config.h"

namespace lynx::server {

// Opens the configured store and creates its schema (dtmd -r), without serving.
Status PopulateStore(const ServerConfig& config);

class Server {
 public:
  explicit Server(ServerConfig config);
  ~Server();

  // Opens the store, binds the HTTP port and starts serving on background threads.
  Status Start();
  // The bound HTTP port (useful with HttpPort 0).
  uint16_t http_port() const;
  // The bound gRPC port (useful with GrpcPort 0).
  uint16_t grpc_port() const;
  // Blocks until Stop() or SIGINT/SIGTERM.
  void Wait();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lynx::server
