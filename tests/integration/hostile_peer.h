// A hostile branch service for the robustness tests: a raw TCP listener on 127.0.0.1 that reads
// HTTP requests as dtmd sends them (header section, then Content-Length bytes) and answers each
// with whatever bytes a script returns (garbage, two replies, a 1xx first, huge headers or
// trailers), then keeps the connection, closes it, resets it or hangs. POSIX sockets and a
// thread per connection: nothing in it shares code with what it attacks.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lynx::it {

struct PeerReply {
  enum class After { kKeep, kClose, kReset, kHang };
  PeerReply(std::string b = {}, After a = After::kKeep) : bytes(std::move(b)), after(a) {}
  std::string bytes;  // written as they are (may be empty)
  After after = After::kKeep;
  std::string later;  // written 200 ms after `bytes` (an unsolicited reply on an idle connection)
};

// A complete HTTP/1.1 reply with a JSON body and Content-Length.
std::string HttpReply(int status, const std::string& json_body, const std::string& extra = "");
// {"dtm_result":"SUCCESS"} with 200.
std::string SuccessReply();

class HostilePeer {
 public:
  // `script(n, request)`: the reply to the n-th request (0-based, over all connections).
  explicit HostilePeer(std::function<PeerReply(int n, const std::string& request)> script);
  ~HostilePeer();
  HostilePeer(const HostilePeer&) = delete;
  HostilePeer& operator=(const HostilePeer&) = delete;

  uint16_t port() const { return port_; }
  std::string Url(const std::string& route) const;  // http://127.0.0.1:<port>/<route>
  int requests() const { return requests_.load(); }
  int connections() const { return connections_.load(); }
  int later_sent() const { return later_sent_.load(); }

 private:
  void AcceptLoop();
  void Serve(int fd);

  std::function<PeerReply(int, const std::string&)> script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> later_sent_{0};
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

// A listener that never accepts: connections complete in the kernel's backlog and then hear
// nothing, as a hung service does.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace lynx::it
