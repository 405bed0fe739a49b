// The harness's HTTP client and polling helpers (declared in harness.h).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <cctype>
#include <thread>

#include "harness.h"

namespace lynx::it {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace bj = boost::json;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

std::string PercentEncode(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace

bj::value HttpResponse::Json() const {
  boost::system::error_code ec;
  bj::value v = bj::parse(body, ec);
  return ec ? bj::value() : v;
}

HttpResponse Http(uint16_t port, const std::string& method, const std::string& target,
                  const std::string& body, const Headers& headers,
                  std::chrono::milliseconds timeout) {
  // A synchronous call built on Beast's async operations so that every step has a deadline
  // (Beast's blocking calls cannot time out): one io_context per call, run to completion.
  asio::io_context io(1);
  HttpResponse out;
  auto run = [&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    auto [cec] = co_await stream.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kTuple);
    if (cec) {
      out.error = "connect: " + cec.message();
      co_return;
    }
    bhttp::request<bhttp::string_body> req;
    req.version(11);
    bhttp::verb verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown) {
      req.method_string(method);
    } else {
      req.method(verb);
    }
    req.target(target);
    req.set(bhttp::field::host, "127.0.0.1:" + std::to_string(port));
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    for (const auto& [k, v] : headers) req.set(k, v);
    req.keep_alive(false);
    req.body() = body;
    req.prepare_payload();
    auto [wec, wn] = co_await bhttp::async_write(stream, req, kTuple);
    // A server may answer (e.g. 413) and close before reading everything: still read the reply.
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(256 << 20);
    auto [rec, rn] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
    if (rec) {
      out.error =
          (wec ? "write: " + wec.message() + "; " : std::string()) + "read: " + rec.message();
      co_return;
    }
    out.status = static_cast<int>(parser.get().result_int());
    out.body = parser.get().body();
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  };
  asio::co_spawn(io, run(), asio::detached);
  io.run();
  return out;
}

std::string RawExchange(uint16_t port, const std::string& bytes,
                        std::chrono::milliseconds timeout) {
  asio::io_context io(1);
  std::string out;
  auto run = [&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    auto [cec] = co_await stream.async_connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kTuple);
    if (cec) co_return;
    // A write error still leaves whatever the server answered to read.
    (void)co_await asio::async_write(stream, asio::buffer(bytes), kTuple);
    char buf[4096];
    for (;;) {
      auto [rec, rn] = co_await stream.async_read_some(asio::buffer(buf), kTuple);
      out.append(buf, rn);
      if (rec) break;
    }
  };
  asio::co_spawn(io, run(), asio::detached);
  io.run();
  return out;
}

uint16_t UnusedPort() {
  asio::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();  // closed when acceptor goes out of scope
}

std::string WithQuery(const std::string& path, const Params& params) {
  std::string out = path;
  char sep = path.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [k, v] : params) {
    out += sep;
    out += PercentEncode(k) + "=" + PercentEncode(v);
    sep = '&';
  }
  return out;
}

bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval, not a wait
  }
}

}  // namespace lynx::it
