#include "common/http_server.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>

#include "common/http_limits.h"
#include "common/http_parse.h"

namespace lynx::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

ServerReply JsonMessage(int status, const std::string& text) {
  return {status, R"({"message":)" + boost::json::serialize(boost::json::string(text)) + "}"};
}

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io, ServerOptions options, ServerHandler handler)
      : io(io), options(options), handler(std::move(handler)), acceptor(io) {
    this->options.max_header_bytes = EffectiveHeaderLimit(options);
  }

  asio::io_context& io;
  ServerOptions options;
  ServerHandler handler;
  tcp::acceptor acceptor;
  std::atomic<uint64_t> buffered{0};  // body bytes admitted over all connections

  // Admission of one body against max_buffered_bytes; released when the request is done.
  struct BodyBudget {
    Impl* impl = nullptr;
    uint64_t bytes = 0;
    ~BodyBudget() {
      if (impl) impl->buffered.fetch_sub(bytes);
    }
  };
  bool Admit(uint64_t bytes, BodyBudget* budget) {
    uint64_t cur = buffered.load();
    do {
      if (cur + bytes > options.max_buffered_bytes) return false;
    } while (!buffered.compare_exchange_weak(cur, cur + bytes));
    budget->impl = this;
    budget->bytes = bytes;
    return true;
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    beast::error_code ignored;
    stream.socket().set_option(tcp::no_delay(true), ignored);
    // Bounded: it holds at most a header or trailer section plus some read-ahead (see
    // common/http_limits.h for why this must stay below 64 KiB).
    beast::flat_buffer buffer(options.max_header_bytes + kReadSlackBytes);
    for (;;) {
      RequestParser parser;
      ConfigureRequestParser(parser, options);
      stream.expires_after(std::chrono::seconds(options.idle_timeout_seconds));
      auto [ec, n] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
      if (ec) {
        co_await ReadFailed(stream, ec);
        break;
      }
      if (UnsupportedTransferEncoding(parser)) {
        co_await Refuse(stream, JsonMessage(501, "unsupported Transfer-Encoding (only chunked)"));
        break;
      }
      BodyBudget budget;
      const uint64_t want = parser.content_length() ? *parser.content_length()
                            : parser.chunked()      ? options.max_body_bytes
                                                    : 0;
      if (want > options.max_body_bytes) {
        co_await Refuse(stream, TooLarge());
        break;
      }
      if (want > 0 && !Admit(want, &budget)) {
        co_await Refuse(stream, JsonMessage(503,
                                            "server busy: too many request bytes in flight "
                                            "(Limits.MaxBufferedBytes); retry later"));
        break;
      }
      if (!parser.is_done()) {
        auto [bec, bn] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
        if (bec) {
          co_await ReadFailed(stream, bec);
          break;
        }
      }
      auto req = parser.release();
      const bool keep_alive = req.keep_alive();
      ServerReply reply = co_await Dispatch(req);
      if (!co_await Write(stream, std::move(reply), keep_alive) || !keep_alive) break;
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<ServerReply> Dispatch(bhttp::request<GrowingStringBody>& req) {
    auto parsed = ToServerRequest(req);
    if (!parsed.ok()) co_return JsonMessage(400, parsed.status().message());
    ServerRequest& r = *parsed;
    std::string what;
    try {
      co_return co_await handler(r);
    } catch (const std::exception& e) {
      what = e.what();
    }
    // A handler bug costs this request only: the client gets a 500 and the connection goes on.
    spdlog::error("{} {}: unexpected exception: {}", r.method, r.path, what);
    co_return JsonMessage(500, "internal error");
  }

  ServerReply TooLarge() const {
    return JsonMessage(
        413, "request body larger than " + std::to_string(options.max_body_bytes) + " bytes");
  }

  // A request that could not be read: answer when the client can still use an answer.
  asio::awaitable<void> ReadFailed(beast::tcp_stream& stream, beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
        ec == beast::error::timeout || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      co_return;
    }
    if (ec == bhttp::error::body_limit) {
      co_await Refuse(stream, TooLarge());
    } else if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      co_await Refuse(stream,
                      JsonMessage(431, "request header or trailer section larger than " +
                                           std::to_string(options.max_header_bytes) + " bytes"));
    } else {
      co_await Refuse(stream, JsonMessage(400, "bad HTTP request: " + ec.message()));
    }
  }

  // Answers and closes without reading the rest of the request. Closing with unread bytes in the
  // receive queue makes the kernel send a reset, which can destroy the answer before the client
  // reads it; so the send side is shut first and the client's remaining bytes are read and
  // dropped for a short while (bounded in time and bytes).
  static asio::awaitable<void> Refuse(beast::tcp_stream& stream, ServerReply reply) {
    if (!co_await Write(stream, std::move(reply), false)) co_return;
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(std::chrono::seconds(2));
    char sink[16 * 1024];
    for (size_t drained = 0; drained < (16u << 20);) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
      if (ec) break;
      drained += n;
    }
  }

  static asio::awaitable<bool> Write(beast::tcp_stream& stream, ServerReply reply,
                                     bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), 11};
    res.set(bhttp::field::content_type, reply.content_type);
    res.keep_alive(keep_alive);
    res.body() = std::move(reply.body);
    res.prepare_payload();
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await bhttp::async_write(stream, res, kTuple);
    co_return !ec;
  }

  // Accept errors (EMFILE when descriptors run out, ENOBUFS, ...) back off from 10 ms to 1 s and
  // are logged at most every 10 s with a count, instead of spinning a core and flooding the log.
  asio::awaitable<void> Accept() {
    auto self = shared_from_this();
    asio::steady_timer pause(io);
    auto backoff = std::chrono::milliseconds(10);
    int64_t errors = 0;
    auto last_log = std::chrono::steady_clock::time_point();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (!ec) {
        backoff = std::chrono::milliseconds(10);
        asio::co_spawn(io, Session(std::move(socket)), [](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("HTTP connection ended by an exception: {}", ex.what());
          }
        });
        continue;
      }
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      ++errors;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_log >= std::chrono::seconds(10)) {
        spdlog::warn("accept: {} ({} accept errors since the last report); backing off",
                     ec.message(), errors);
        errors = 0;
        last_log = now;
      }
      pause.expires_after(backoff);
      co_await pause.async_wait(kTuple);
      backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
    }
  }
};

Server::Server(asio::io_context& io, ServerOptions options, ServerHandler handler)
    : impl_(std::make_shared<Impl>(io, options, std::move(handler))) {}

Server::~Server() { Stop(); }

Status Server::Listen(const std::string& address, uint16_t port) {
  beast::error_code ec;
  auto addr = asio::ip::make_address(address, ec);
  if (ec) return Status::InvalidArgument("invalid listen address '" + address + "'");
  tcp::endpoint ep(addr, port);
  auto& a = impl_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status::Unavailable("cannot listen on " + address + ":" + std::to_string(port) + ": " +
                               ec.message());
  }
  return Status::Ok();
}

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::Start() {
  asio::co_spawn(impl_->io, impl_->Accept(), [](std::exception_ptr e) {
    if (e) spdlog::critical("HTTP accept loop ended by an exception");
  });
}

void Server::Stop() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace lynx::http
