#include "common/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <cctype>
#include <mutex>
#include <unordered_map>

namespace lynx::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Conn {
  explicit Conn(asio::any_io_executor ex) : stream(ex) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
};

struct Target {
  std::string host;
  std::string port;
  std::string path_and_query;
  std::string key() const { return host + ":" + port; }
};

StatusOr<Target> ParseTarget(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Status::InvalidArgument("invalid URL: " + std::string(url));
  const auto& u = *parsed;
  if (u.scheme() != "http") {
    return Status::InvalidArgument("unsupported URL scheme (only http is supported): " +
                                   std::string(url));
  }
  Target t;
  t.host = std::string(u.encoded_host());
  if (t.host.empty()) return Status::InvalidArgument("URL has no host: " + std::string(url));
  if (u.host_type() == boost::urls::host_type::ipv6) t.host = std::string(u.encoded_host_address());
  t.port = u.has_port() ? std::string(u.port()) : "80";
  t.path_and_query = std::string(u.encoded_path());
  if (t.path_and_query.empty()) t.path_and_query = "/";
  if (u.has_query()) t.path_and_query += "?" + std::string(u.encoded_query());
  return t;
}

bhttp::verb ToVerb(const std::string& method) {
  auto v = bhttp::string_to_verb(method);
  return v == bhttp::verb::unknown ? bhttp::verb::get : v;
}

}  // namespace

struct ClientPool::Impl {
  asio::any_io_executor executor;
  ClientOptions options;
  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  std::unordered_map<std::string, tcp::resolver::results_type> resolved;

  std::unique_ptr<Conn> TakeIdle(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    auto c = std::move(it->second.back());
    it->second.pop_back();
    return c;
  }

  void GiveBack(const std::string& key, std::unique_ptr<Conn> c) {
    c->stream.expires_never();
    std::lock_guard lock(mu);
    auto& v = idle[key];
    if (v.size() < options.max_idle_per_host) v.push_back(std::move(c));
  }

  asio::awaitable<StatusOr<tcp::resolver::results_type>> Resolve(const Target& t) {
    {
      std::lock_guard lock(mu);
      auto it = resolved.find(t.key());
      if (it != resolved.end()) co_return it->second;
    }
    tcp::resolver resolver(executor);
    auto [ec, results] = co_await resolver.async_resolve(t.host, t.port, kTuple);
    if (ec) co_return Status::Unavailable("resolve " + t.host + ": " + ec.message());
    std::lock_guard lock(mu);
    resolved[t.key()] = results;
    co_return results;
  }
};

ClientPool::ClientPool(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_shared<Impl>()) {
  impl_->executor = std::move(executor);
  impl_->options = options;
}

ClientPool::~ClientPool() { CloseIdle(); }

void ClientPool::CloseIdle() {
  std::lock_guard lock(impl_->mu);
  impl_->idle.clear();
}

asio::awaitable<StatusOr<ClientResponse>> ClientPool::Send(ClientRequest request) {
  auto impl = impl_;  // keeps the pool state alive for the duration of the call
  auto target = ParseTarget(request.url);
  if (!target.ok()) co_return target.status();
  const std::string key = target->key();
  auto timeout = std::chrono::milliseconds(request.timeout_ms > 0 ? request.timeout_ms : 3000);

  bhttp::request<bhttp::string_body> req{ToVerb(request.method), target->path_and_query, 11};
  req.set(bhttp::field::host, target->host + ":" + target->port);
  req.set(bhttp::field::user_agent, "dtmd");
  for (const auto& [k, v] : request.headers) req.set(k, v);
  req.keep_alive(true);
  if (!request.body.empty() || req.method() != bhttp::verb::get) {
    req.body() = std::move(request.body);
    req.prepare_payload();
  }

  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = impl->TakeIdle(key);
    const bool reused = conn != nullptr;
    if (!conn) {
      auto endpoints = co_await impl->Resolve(*target);
      if (!endpoints.ok()) co_return endpoints.status();
      conn = std::make_unique<Conn>(impl->executor);
      conn->stream.expires_after(timeout);
      auto [ec, ep] = co_await conn->stream.async_connect(*endpoints, kTuple);
      if (ec) {
        co_return Status::Unavailable("connect " + key + ": " + ec.message());
      }
      conn->stream.socket().set_option(tcp::no_delay(true));
    }
    conn->stream.expires_after(timeout);
    auto [wec, written] = co_await bhttp::async_write(conn->stream, req, kTuple);
    if (wec) {
      if (reused) continue;  // a stale keep-alive connection: retry once on a fresh one
      co_return Status::Unavailable("write " + request.url + ": " + wec.message());
    }
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(impl->options.max_response_body);
    auto [rec, read] = co_await bhttp::async_read(conn->stream, conn->buffer, parser, kTuple);
    if (rec) {
      // The server closed an idle connection just as we reused it: nothing was processed.
      if (reused && read == 0 &&
          (rec == bhttp::error::end_of_stream || rec == asio::error::eof ||
           rec == asio::error::connection_reset)) {
        continue;
      }
      if (rec == beast::error::timeout) {
        co_return Status::Unavailable("timeout after " + std::to_string(timeout.count()) +
                                      " ms calling " + request.url);
      }
      co_return Status::Unavailable("read " + request.url + ": " + rec.message());
    }
    auto res = parser.release();
    ClientResponse out{static_cast<int>(res.result_int()), std::move(res.body())};
    if (res.keep_alive()) impl->GiveBack(key, std::move(conn));
    co_return out;
  }
  co_return Status::Unavailable("connection to " + key + " closed twice");
}

namespace {
// Query-component escaping as Go's url.QueryEscape does it for unreserved characters; everything
// else (also '+', which form decoders read as a space) is percent-encoded.
void AppendEscaped(std::string& out, std::string_view in) {
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
}
}  // namespace

std::string AppendQuery(std::string_view url, const Headers& params) {
  std::string_view fragment;
  if (auto hash = url.find('#'); hash != std::string_view::npos) {
    fragment = url.substr(hash);
    url = url.substr(0, hash);
  }
  std::string out(url);
  char sep = url.find('?') == std::string_view::npos ? '?' : '&';
  if (!url.empty() && (url.back() == '?' || url.back() == '&')) sep = '\0';
  for (const auto& [k, v] : params) {
    if (sep) out += sep;
    sep = '&';
    AppendEscaped(out, k);
    out += '=';
    AppendEscaped(out, v);
  }
  out += fragment;
  return out;
}

}  // namespace lynx::http
