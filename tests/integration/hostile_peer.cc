#include "hostile_peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

namespace lynx::it {

namespace {

int ListenLoopback(uint16_t* port, int backlog) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, backlog) != 0) {
    ::close(fd);
    return -1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  *port = ntohs(addr.sin_port);
  return fd;
}

bool WriteAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads one request (header section + Content-Length body) from fd, keeping extra bytes in buf.
bool ReadRequest(int fd, std::string& buf, std::string* request, const std::atomic<bool>& stop) {
  auto fill = [&]() {
    pollfd p{fd, POLLIN, 0};
    while (!stop) {
      int r = ::poll(&p, 1, 100);
      if (r < 0) return false;
      if (r == 0) continue;
      char tmp[8192];
      ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
      return true;
    }
    return false;
  };
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return false;
  }
  size_t length = 0;
  std::string head = buf.substr(0, end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto pos = head.find("content-length:"); pos != std::string::npos) {
    length = std::strtoull(head.c_str() + pos + 15, nullptr, 10);
  }
  while (buf.size() < end + 4 + length) {
    if (!fill()) return false;
  }
  *request = buf.substr(0, end + 4 + length);
  buf.erase(0, end + 4 + length);
  return true;
}

}  // namespace

std::string HttpReply(int status, const std::string& json_body, const std::string& extra) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(json_body.size()) + "\r\n" + extra + "\r\n" + json_body;
}

std::string SuccessReply() { return HttpReply(200, R"({"dtm_result":"SUCCESS"})"); }

HostilePeer::HostilePeer(std::function<PeerReply(int, const std::string&)> script)
    : script_(std::move(script)) {
  listen_fd_ = ListenLoopback(&port_, 512);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

HostilePeer::~HostilePeer() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  {
    std::lock_guard lock(mu_);
    for (int fd : fds_) {
      if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
    }
  }
  if (acceptor_.joinable()) acceptor_.join();
  for (auto& t : threads_) t.join();
  for (int fd : fds_) {
    if (fd >= 0) ::close(fd);
  }
  ::close(listen_fd_);
}

std::string HostilePeer::Url(const std::string& route) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + route;
}

void HostilePeer::AcceptLoop() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++connections_;
    std::lock_guard lock(mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { Serve(fd); });
  }
}

void HostilePeer::Serve(int fd) {
  std::string buf, request;
  bool open = true;
  while (open && !stop_ && ReadRequest(fd, buf, &request, stop_)) {
    PeerReply reply = script_(requests_++, request);
    if (!WriteAll(fd, reply.bytes)) break;
    if (!reply.later.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the script's timing
      if (!WriteAll(fd, reply.later)) break;
      ++later_sent_;
    }
    switch (reply.after) {
      case PeerReply::After::kKeep:
        break;
      case PeerReply::After::kClose:
        ::shutdown(fd, SHUT_WR);
        open = false;
        break;
      case PeerReply::After::kReset: {
        linger l{1, 0};  // close with RST
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        ::shutdown(fd, SHUT_RD);
        open = false;
        break;
      }
      case PeerReply::After::kHang:
        while (!stop_) {
          pollfd p{fd, POLLIN, 0};
          if (::poll(&p, 1, 100) > 0) {
            char tmp[4096];
            if (::recv(fd, tmp, sizeof tmp, 0) <= 0) break;
          }
        }
        open = false;
        break;
    }
  }
  // The fd stays in fds_ (closed at destruction) so a reset/close above takes effect now.
  if (!stop_) {
    std::lock_guard lock(mu_);
    for (int& f : fds_) {
      if (f == fd) {
        ::close(fd);
        f = -1;
      }
    }
  }
}

SilentListener::SilentListener() { fd_ = ListenLoopback(&port_, 4096); }

SilentListener::~SilentListener() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace lynx::it
