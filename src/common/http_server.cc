#include "common/http_server.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <list>
#include <mutex>

#include "common/http_limits.h"
#include "common/http_parse.h"
#include "common/log.h"

namespace lynx::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// Replies up to this size are never refused for memory (errors, acks, small queries).
constexpr size_t kUnmeteredReplyBytes = 64 * 1024;
// First read of a request on a connection: most DTM requests fit.
constexpr size_t kFirstReadBytes = 2048;

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
    ~BodyBudget() { Release(); }
    void Release() {
      if (impl) impl->buffered.fetch_sub(bytes);
      impl = nullptr;
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

  std::atomic<int64_t> connections{0};

  // Connections waiting for their next request, oldest first. At the connection cap the oldest is
  // closed to admit a new one, so an idle flood cannot lock clients out. Each entry is touched
  // only on its session's strand, where the session runs.
  struct IdleHandle {
    asio::any_io_executor strand;
    beast::tcp_stream* stream = nullptr;
    bool idle = false;    // on the strand only
    bool listed = false;  // in idle_list; under idle_mu
  };
  std::mutex idle_mu;
  std::list<std::weak_ptr<IdleHandle>> idle_list;

  std::list<std::weak_ptr<IdleHandle>>::iterator EnterIdle(const std::shared_ptr<IdleHandle>& h) {
    h->idle = true;
    std::lock_guard lock(idle_mu);
    h->listed = true;
    return idle_list.insert(idle_list.end(), h);
  }
  void LeaveIdle(const std::shared_ptr<IdleHandle>& h,
                 std::list<std::weak_ptr<IdleHandle>>::iterator it) {
    h->idle = false;
    std::lock_guard lock(idle_mu);
    if (h->listed) idle_list.erase(it);  // not when EvictIdle took it out already
    h->listed = false;
  }
  // Closes the longest-idle connection, if any; true when one was asked to close.
  bool EvictIdle() {
    std::shared_ptr<IdleHandle> victim;
    {
      std::lock_guard lock(idle_mu);
      while (!idle_list.empty() && !victim) {
        victim = idle_list.front().lock();
        idle_list.pop_front();
        if (victim) victim->listed = false;
      }
    }
    if (!victim) return false;
    asio::post(victim->strand, [victim] {
      if (victim->idle) victim->stream->cancel();
    });
    return true;
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    auto self = shared_from_this();
    struct Count {
      std::atomic<int64_t>& n;
      ~Count() { --n; }
    } count{connections};
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::string peer;
    if (auto ep = socket.remote_endpoint(ignored); !ignored) {
      peer = ep.address().to_string() + ":" + std::to_string(ep.port());
    }
    beast::tcp_stream stream(std::move(socket));
    auto tls = options.tls ? options.tls() : nullptr;
    if (!tls) {
      co_await Serve(stream, peer);
      co_return;
    }
    // The context stays alive for the connection's lifetime, even when SIGHUP swaps in another.
    beast::ssl_stream<beast::tcp_stream> tls_stream(std::move(stream), *tls);
    beast::get_lowest_layer(tls_stream).expires_after(std::chrono::seconds(10));
    auto [hec] = co_await tls_stream.async_handshake(asio::ssl::stream_base::server, kTuple);
    if (hec) {
      log::Log(log::Component::kHttp, spdlog::level::debug, "TLS handshake with {} failed: {}",
               peer, hec.message());
      beast::get_lowest_layer(tls_stream).socket().close(ignored);
      co_return;
    }
    co_await Serve(tls_stream, peer);
  }

  // Requests of one connection, plain or TLS, until it closes or fails.
  template <class Stream>
  asio::awaitable<void> Serve(Stream& stream, const std::string& peer) {
    beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
    auto handle = std::make_shared<IdleHandle>();
    handle->strand = co_await asio::this_coro::executor;
    handle->stream = &lowest;
    beast::error_code ignored;
    // Bounded: it holds at most a header or trailer section plus some read-ahead (see
    // common/http_limits.h for why this must stay below 64 KiB).
    beast::flat_buffer buffer(options.max_header_bytes + kReadSlackBytes);
    for (;;) {
      RequestParser parser;
      ConfigureRequestParser(parser, options);
      lowest.expires_after(std::chrono::seconds(options.idle_timeout_seconds));
      if (buffer.size() == 0) {
        // An idle keep-alive connection holds no read buffer: the first bytes of the next
        // request go into a small one (an idle flood costs a socket and a coroutine frame each).
        buffer.shrink_to_fit();
        auto idle_entry = EnterIdle(handle);
        auto [iec, in] = co_await stream.async_read_some(buffer.prepare(kFirstReadBytes), kTuple);
        LeaveIdle(handle, idle_entry);
        if (iec) break;
        buffer.commit(in);
      }
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
      ServerReply reply = co_await Dispatch(req, peer);
      budget.Release();
      // A large reply waits in memory for its reader; slow readers of big replies (a /query of a
      // large transaction) count against the same budget as bodies being received.
      BodyBudget reply_budget;
      if (reply.body.size() > kUnmeteredReplyBytes && !Admit(reply.body.size(), &reply_budget)) {
        reply = JsonMessage(503,
                            "server busy: too many reply bytes waiting for their readers "
                            "(Limits.MaxBufferedBytes); retry later");
      }
      if (!co_await Write(stream, std::move(reply), keep_alive) || !keep_alive) break;
    }
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<ServerReply> Dispatch(bhttp::request<GrowingStringBody>& req,
                                        const std::string& peer) {
    auto parsed = ToServerRequest(req);
    if (!parsed.ok()) co_return JsonMessage(400, parsed.status().message());
    ServerRequest& r = *parsed;
    r.peer = peer;
    std::string what;
    try {
      co_return co_await handler(r);
    } catch (const std::exception& e) {
      what = e.what();
    }
    // A handler bug costs this request only: the client gets a 500 and the connection goes on.
    log::Log(log::Component::kHttp, spdlog::level::err, "{} {}: unexpected exception: {}", r.method,
             r.path, what);
    co_return JsonMessage(500, "internal error");
  }

  ServerReply TooLarge() const {
    return JsonMessage(
        413, "request body larger than " + std::to_string(options.max_body_bytes) + " bytes");
  }

  // A request that could not be read: answer when the client can still use an answer.
  template <class Stream>
  asio::awaitable<void> ReadFailed(Stream& stream, beast::error_code ec) {
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
  template <class Stream>
  static asio::awaitable<void> Refuse(Stream& stream, ServerReply reply) {
    if (!co_await Write(stream, std::move(reply), false)) co_return;
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_send, ignored);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
    char sink[16 * 1024];
    for (size_t drained = 0; drained < (16u << 20);) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
      if (ec) break;
      drained += n;
    }
  }

  template <class Stream>
  static asio::awaitable<bool> Write(Stream& stream, ServerReply reply, bool keep_alive) {
    bhttp::response<bhttp::string_body> res{static_cast<bhttp::status>(reply.status), 11};
    res.set(bhttp::field::content_type, reply.content_type);
    for (const auto& [k, v] : reply.headers) res.set(k, v);
    res.keep_alive(keep_alive);
    res.body() = std::move(reply.body);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
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
      if (connections.load() >= options.max_connections && !EvictIdle()) {
        // At the cap with no idle connection to close, new connections wait in the kernel's
        // backlog until one closes.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_log >= std::chrono::seconds(10)) {
          log::Log(log::Component::kHttp, spdlog::level::warn,
                   "{} connections open (Limits.MaxConnections): accepting paused",
                   connections.load());
          last_log = now;
        }
        pause.expires_after(std::chrono::milliseconds(50));
        co_await pause.async_wait(kTuple);
        continue;
      }
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (!ec) {
        backoff = std::chrono::milliseconds(10);
        ++connections;
        // Each connection on its own strand: the idle eviction above reaches it there.
        asio::co_spawn(asio::make_strand(io), Session(std::move(socket)), [](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            log::Log(log::Component::kHttp, spdlog::level::err,
                     "HTTP connection ended by an exception: {}", ex.what());
          }
        });
        continue;
      }
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      ++errors;
      const auto now = std::chrono::steady_clock::now();
      if (now - last_log >= std::chrono::seconds(10)) {
        log::Log(log::Component::kHttp, spdlog::level::warn,
                 "accept: {} ({} accept errors since the last report); backing off", ec.message(),
                 errors);
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
    if (e)
      log::Log(log::Component::kHttp, spdlog::level::critical,
               "HTTP accept loop ended by an exception");
  });
}

void Server::Stop() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace lynx::http
