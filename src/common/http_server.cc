#include "common/http_server.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <cctype>

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

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
      : io(io), options(options), handler(std::move(handler)), acceptor(io) {}

  asio::io_context& io;
  ServerOptions options;
  ServerHandler handler;
  tcp::acceptor acceptor;

  asio::awaitable<void> Session(tcp::socket socket) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    stream.socket().set_option(tcp::no_delay(true));
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(options.max_body_bytes);
      parser.header_limit(64 * 1024);
      stream.expires_after(std::chrono::seconds(options.idle_timeout_seconds));
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) break;
      if (ec) {
        if (ec == bhttp::error::body_limit) {
          co_await Write(stream,
                         JsonMessage(413, "request body larger than " +
                                              std::to_string(options.max_body_bytes) + " bytes"),
                         false);
        } else if (ec != beast::error::timeout && ec != asio::error::connection_reset &&
                   ec != asio::error::operation_aborted) {
          co_await Write(stream, JsonMessage(400, "bad HTTP request: " + ec.message()), false);
        }
        break;
      }
      auto req = parser.release();
      const bool keep_alive = req.keep_alive();
      ServerReply reply;
      auto target = boost::urls::parse_origin_form(req.target());
      if (!target) {
        reply = JsonMessage(400, "malformed request target");
      } else {
        ServerRequest r;
        r.method = std::string(req.method_string());
        r.path = std::string(target->path());
        for (auto p : target->params()) r.query[std::string(p.key)] = std::string(p.value);
        for (const auto& field : req) {
          std::string name(field.name_string());
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          r.headers[std::move(name)] = std::string(field.value());
        }
        r.body = std::move(req.body());
        reply = co_await handler(r);
      }
      if (!co_await Write(stream, std::move(reply), keep_alive) || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
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

  asio::awaitable<void> Accept() {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(kTuple);
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        spdlog::warn("accept: {}", ec.message());
        continue;
      }
      asio::co_spawn(io, Session(std::move(socket)), asio::detached);
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

void Server::Start() { asio::co_spawn(impl_->io, impl_->Accept(), asio::detached); }

void Server::Stop() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace lynx::http
