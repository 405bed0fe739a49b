// AcceptWatchdog: notices a listening port that no longer accepts connections and calls for a
// restart. gRPC 1.51 (Debian bookworm's) stops accepting for good when accept4 fails once with
// EMFILE (CVE-2023-4785, fixed upstream in 1.53): after descriptors ran out and came back, the
// gRPC port kept completing TCP handshakes in the kernel's backlog and nobody answered. Every few
// seconds the watchdog connects, sends an HTTP/2 preface and waits briefly for an answer (a TLS
// port answers the preface with an alert, a plaintext one with SETTINGS); no byte back (silence,
// a refused or reset connection) twice in a row means the acceptor is dead. A probe that cannot
// even open a socket (descriptors still exhausted) counts as nothing. Internal header (Asio).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace lynx::server {

class AcceptWatchdog {
 public:
  struct Options {
    std::chrono::milliseconds period{3000};
    std::chrono::milliseconds answer_within{2000};
    int failures_before_restart = 2;
  };
  // `host`: where to connect (the listen address, or loopback for a wildcard one). `restart` runs
  // on the io thread and must not block (hand the work to another thread).
  AcceptWatchdog(boost::asio::io_context& io, std::string host, uint16_t port,
                 std::function<void()> restart, Options options);
  AcceptWatchdog(boost::asio::io_context& io, std::string host, uint16_t port,
                 std::function<void()> restart)
      : AcceptWatchdog(io, std::move(host), port, std::move(restart), Options{}) {}
  void Start();
  void Stop() { stopping_ = true; }

  // One probe: true = the port answered, false = silence, nullopt = could not probe.
  static boost::asio::awaitable<std::optional<bool>> Probe(const std::string& host, uint16_t port,
                                                           std::chrono::milliseconds within);

 private:
  boost::asio::awaitable<void> Loop();

  boost::asio::io_context& io_;
  std::string host_;
  uint16_t port_;
  std::function<void()> restart_;
  Options options_;
  std::atomic<bool> stopping_{false};
};

// The address to probe for a listen address ("0.0.0.0" -> 127.0.0.1, "::" -> ::1).
std::string ProbeHostFor(const std::string& listen_address);

}  // namespace lynx::server
