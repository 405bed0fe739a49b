// bench_busi: the no-op business service of the benchmark. Every request under /api/busi/...
// (saga actions and compensations, msg steps and QueryPrepared, TCC try / confirm / cancel) is
// answered 200 {"dtm_result":"SUCCESS"} at once, so a benchmark measures the DTM server and not
// the branches. Keep-alive HTTP/1.1 through lynx::http::Server; nothing is logged per request.
//
//   bench_busi --port 0 --port-file F [--threads N] [--address 127.0.0.1]
#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/http_server.h"

namespace {

namespace asio = boost::asio;

constexpr std::string_view kBusiPrefix = "/api/busi/";

asio::awaitable<lynx::http::ServerReply> Answer(lynx::http::ServerRequest& req) {
  if (req.path.compare(0, kBusiPrefix.size(), kBusiPrefix) == 0) {
    co_return lynx::http::ServerReply{200, R"({"dtm_result":"SUCCESS"})"};
  }
  co_return lynx::http::JsonMessage(404, "no such route: " + req.path);
}

// Written to a temp file and renamed, so a reader polling the file never sees a partial port.
bool WritePortFile(const std::string& path, uint16_t port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_busi: no-op DTM business service (every /api/busi/* call succeeds)"};
  std::string address = "127.0.0.1";
  uint16_t port = 0;
  std::string port_file;
  int threads = 1;
  app.add_option("--address", address, "listen address");
  app.add_option("--port", port, "listen port (0 = any free port)");
  app.add_option("--port-file", port_file, "write the bound port to this file once listening");
  app.add_option("--threads", threads, "io threads")->check(CLI::Range(1, 256));
  CLI11_PARSE(app, argc, argv);

  asio::io_context io(threads);
  lynx::http::Server server(io, lynx::http::ServerOptions{}, Answer);
  if (auto st = server.Listen(address, port); !st.ok()) {
    std::cerr << "bench_busi: " << st.message() << "\n";
    return 1;
  }
  server.Start();
  if (!port_file.empty() && !WritePortFile(port_file, server.port())) {
    std::cerr << "bench_busi: cannot write " << port_file << "\n";
    return 1;
  }
  std::cout << "bench_busi listening on " << address << ":" << server.port() << " (" << threads
            << " threads)" << std::endl;

  // The signal handler runs on an io thread, where Server::Stop must be called.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    server.Stop();
    io.stop();
  });

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  return 0;
}
