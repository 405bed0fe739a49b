#include "server/grpc/accept_watchdog.h"

#include "common/log.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace lynx::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// The HTTP/2 client connection preface and an empty SETTINGS frame.
constexpr char kPreface[] =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
}  // namespace

std::string ProbeHostFor(const std::string& listen_address) {
  if (listen_address.empty() || listen_address == "0.0.0.0") return "127.0.0.1";
  if (listen_address == "::" || listen_address == "[::]") return "::1";
  return listen_address;
}

AcceptWatchdog::AcceptWatchdog(asio::io_context& io, std::string host, uint16_t port,
                               std::function<void()> restart, Options options)
    : io_(io),
      host_(std::move(host)),
      port_(port),
      restart_(std::move(restart)),
      options_(options) {}

void AcceptWatchdog::Start() {
  asio::co_spawn(io_, Loop(), [](std::exception_ptr e) {
    if (e)
      log::Log(log::Component::kGrpc, spdlog::level::err,
               "gRPC accept watchdog ended by an exception");
  });
}

asio::awaitable<std::optional<bool>> AcceptWatchdog::Probe(const std::string& host, uint16_t port,
                                                           std::chrono::milliseconds within) {
  auto ex = co_await asio::this_coro::executor;
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) co_return std::nullopt;
  boost::beast::tcp_stream stream(ex);
  stream.expires_after(within);
  auto [cec] = co_await stream.async_connect(tcp::endpoint(addr, port), kTuple);
  if (cec == asio::error::no_descriptors || cec == asio::error::no_buffer_space) {
    co_return std::nullopt;  // our own socket could not be made: nothing learnt
  }
  // Refused or no handshake: nothing serves there (gRPC may also close its listening socket).
  if (cec) co_return false;
  auto [wec, wn] =
      co_await asio::async_write(stream, asio::buffer(kPreface, sizeof kPreface - 1), kTuple);
  if (wec) co_return false;
  // A serving port answers with bytes (SETTINGS, or a TLS alert); silence, or a reset from a
  // listening socket being closed, is not an answer.
  char byte;
  auto [rec, rn] = co_await stream.async_read_some(asio::buffer(&byte, 1), kTuple);
  co_return !rec && rn == 1;
}

asio::awaitable<void> AcceptWatchdog::Loop() {
  asio::steady_timer timer(io_);
  int failures = 0;
  while (!stopping_) {
    timer.expires_after(options_.period);
    co_await timer.async_wait(kTuple);
    if (stopping_) break;
    auto alive = co_await Probe(host_, port_, options_.answer_within);
    if (!alive.has_value()) continue;
    failures = *alive ? 0 : failures + 1;
    if (failures >= options_.failures_before_restart) {
      log::Log(
          log::Component::kGrpc, spdlog::level::err,
          "port {} accepts no connections any more (gRPC 1.51 stops accepting after running out "
          "of descriptors); restarting the gRPC server",
          port_);
      failures = 0;
      restart_();
    }
  }
}

}  // namespace lynx::server
