#include "common/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/async_gate.h"
#include "common/http_limits.h"
#include "common/http_parse.h"
#include "common/tls.h"

namespace lynx::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
namespace ssl = boost::asio::ssl;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Conn {
  // The read buffer holds a reply's header or trailer section plus read-ahead; bounded below
  // Beast's 64 KiB field limit (common/http_limits.h), so a hostile reply cannot end the process.
  Conn(asio::any_io_executor ex, std::shared_ptr<ssl::context> tls)
      : tls_ctx(std::move(tls)), buffer(kReplyReadBufferBytes) {
    if (tls_ctx) {
      secure.emplace(beast::tcp_stream(ex), *tls_ctx);
    } else {
      plain.emplace(ex);
    }
  }
  beast::tcp_stream& lowest() { return plain ? *plain : beast::get_lowest_layer(*secure); }
  std::shared_ptr<ssl::context> tls_ctx;  // outlives the stream that uses it
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> secure;
  beast::flat_buffer buffer;
};

struct Target {
  bool tls = false;
  std::string host;
  std::string port;
  std::string path_and_query;
  std::string key() const { return (tls ? "https://" : "") + host + ":" + port; }
};

StatusOr<Target> ParseTarget(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return Status::InvalidArgument("invalid URL: " + std::string(url));
  const auto& u = *parsed;
  if (u.scheme_id() != boost::urls::scheme::http && u.scheme_id() != boost::urls::scheme::https) {
    return Status::InvalidArgument("unsupported URL scheme (only http and https): " +
                                   std::string(url));
  }
  Target t;
  t.tls = u.scheme_id() == boost::urls::scheme::https;
  t.host = std::string(u.encoded_host());
  if (t.host.empty()) return Status::InvalidArgument("URL has no host: " + std::string(url));
  if (u.host_type() == boost::urls::host_type::ipv6) t.host = std::string(u.encoded_host_address());
  t.port = u.has_port() && !u.port().empty() ? std::string(u.port()) : t.tls ? "443" : "80";
  t.path_and_query = std::string(u.encoded_path());
  if (t.path_and_query.empty()) t.path_and_query = "/";
  if (u.has_query()) t.path_and_query += "?" + std::string(u.encoded_query());
  return t;
}

bhttp::verb ToVerb(const std::string& method) {
  auto v = bhttp::string_to_verb(method);
  return v == bhttp::verb::unknown ? bhttp::verb::get : v;
}

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// A header we may write: a token name and a value without control bytes other than tab, each
// within kMaxOutboundHeaderValue. Anything else could split the request on the wire.
Status CheckHeader(const std::string& name, const std::string& value) {
  if (name.empty() || name.size() > 256 || !std::all_of(name.begin(), name.end(), [](char c) {
        return IsTokenChar(static_cast<unsigned char>(c));
      })) {
    return Status::InvalidArgument("header name is not an HTTP token");
  }
  if (value.size() > static_cast<size_t>(kMaxOutboundHeaderValue)) {
    return Status::InvalidArgument("header " + name + " is longer than " +
                                   std::to_string(kMaxOutboundHeaderValue) + " bytes");
  }
  for (unsigned char c : value) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return Status::InvalidArgument("header " + name + " contains a control character");
    }
  }
  return Status::Ok();
}

// One exchange on a connection: the reply, or a retry on a fresh connection (a stale keep-alive
// connection closed by the server before it read anything).
struct Outcome {
  bool retry = false;
  bool reusable = false;  // the connection may go back to the pool
  std::optional<StatusOr<ClientResponse>> result;
};

}  // namespace

struct ClientPool::Impl {
  Impl(asio::any_io_executor ex, ClientOptions o)
      : executor(std::move(ex)), options(Normalized(o)), total(options.max_conns_total) {
    // With the system store only, the TLS context (a few MiB of parsed roots) is made on the
    // first https:// request: most pools never make one.
    if (!options.ca_file.empty() || !options.cert_file.empty()) {
      (void)SetCa(options.ca_file, options.cert_file, options.key_file);
    }
  }
  static ClientOptions Normalized(ClientOptions o) {
    o.max_conns_per_host = std::max<size_t>(o.max_conns_per_host, 1);
    o.max_conns_total = std::max<size_t>(o.max_conns_total, 1);
    return o;
  }

  asio::any_io_executor executor;
  ClientOptions options;
  std::mutex mu;
  std::shared_ptr<ssl::context> tls;  // for https://; under mu
  Status tls_status;                  // why there is none; under mu

  Status SetCa(const std::string& ca_file, const std::string& cert_file,
               const std::string& key_file) {
    auto ctx = MakeClientTlsContext(ca_file, cert_file, key_file);
    std::lock_guard lock(mu);
    if (!ctx.ok()) {
      if (!tls) tls_status = ctx.status();
      return ctx.status();
    }
    tls = std::move(*ctx);
    tls_status = Status::Ok();
    return tls_status;
  }
  std::unordered_map<std::string, std::vector<std::unique_ptr<Conn>>> idle;
  std::unordered_map<std::string, std::vector<tcp::endpoint>> resolved;
  std::unordered_map<std::string, std::shared_ptr<AsyncGate>> gates;
  AsyncGate total;        // requests in flight over all hosts
  size_t idle_total = 0;  // idle connections over all hosts; under mu

  // An idle connection with no bytes pending: bytes that arrived while it was idle are a reply
  // nobody asked for (they would be read as the next call's reply), so such a connection is
  // closed, as is one that already failed.
  std::unique_ptr<Conn> TakeIdle(const std::string& key) {
    std::lock_guard lock(mu);
    auto it = idle.find(key);
    while (it != idle.end() && !it->second.empty()) {
      auto c = std::move(it->second.back());
      it->second.pop_back();
      --idle_total;
      beast::error_code ec;
      const size_t pending = c->lowest().socket().available(ec);
      if (!ec && pending == 0 && c->buffer.size() == 0) return c;
    }
    return nullptr;
  }

  void GiveBack(const std::string& key, std::unique_ptr<Conn> c) {
    c->lowest().expires_never();
    std::lock_guard lock(mu);
    auto& v = idle[key];
    if (v.size() < options.max_conns_per_host && idle_total < options.max_conns_total) {
      v.push_back(std::move(c));
      ++idle_total;
    }
  }

  // The gate of a host:port (requests in flight to it), created on first use and dropped when
  // unused so that the map stays as small as the set of busy targets.
  std::shared_ptr<AsyncGate> Gate(const std::string& key) {
    std::lock_guard lock(mu);
    auto& g = gates[key];
    if (!g) g = std::make_shared<AsyncGate>(options.max_conns_per_host);
    return g;
  }
  void ReleaseGate(const std::string& key, const std::shared_ptr<AsyncGate>& gate) {
    gate->Release();
    std::lock_guard lock(mu);
    auto it = gates.find(key);
    // Every copy of a gate is made under mu: the map's and the caller's are the only ones left
    // when nobody else is about to use it.
    if (it != gates.end() && it->second == gate && gate.use_count() == 2 && gate->Unused()) {
      gates.erase(it);
    }
  }

  // The addresses of a target (cached); with a `check`, only the addresses it admits (refused
  // with its first message when it admits none). Connections are made to exactly these.
  asio::awaitable<StatusOr<std::vector<tcp::endpoint>>> Resolve(const Target& t,
                                                                const AddressCheck* check) {
    std::optional<std::vector<tcp::endpoint>> found;
    {
      std::lock_guard lock(mu);
      auto it = resolved.find(t.key());
      if (it != resolved.end()) found = it->second;
    }
    if (!found) {
      tcp::resolver resolver(executor);
      auto [ec, results] = co_await resolver.async_resolve(t.host, t.port, kTuple);
      if (ec) co_return Status::Unavailable("resolve " + t.host + ": " + ec.message());
      std::vector<tcp::endpoint> eps;
      for (const auto& e : results) eps.push_back(e.endpoint());
      std::lock_guard lock(mu);
      if (resolved.size() >= 4096) resolved.clear();  // bounded: names come from stored URLs
      resolved[t.key()] = eps;
      found = std::move(eps);
    }
    if (check == nullptr || !*check) co_return std::move(*found);
    std::vector<tcp::endpoint> admitted;
    std::optional<Status> refusal;
    for (const auto& e : *found) {
      Status st = (*check)(t.host, e.address().to_string(), e.port());
      if (st.ok()) {
        admitted.push_back(e);
      } else if (!refusal) {
        refusal = std::move(st);
      }
    }
    if (admitted.empty()) {
      co_return refusal ? *refusal : Status::Unavailable("resolve " + t.host + ": no address");
    }
    co_return admitted;
  }

  template <class Stream>
  asio::awaitable<Outcome> RoundTrip(Stream& stream, Conn& conn, bool reused,
                                     const ClientRequest& request,
                                     bhttp::request<bhttp::string_body>& req,
                                     std::chrono::milliseconds timeout);

  asio::awaitable<StatusOr<ClientResponse>> Exchange(const ClientRequest& request,
                                                     const Target& target,
                                                     bhttp::request<bhttp::string_body>& req,
                                                     std::chrono::milliseconds timeout);
};

ClientPool::ClientPool(asio::any_io_executor executor, ClientOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), options)) {}

ClientPool::~ClientPool() { CloseIdle(); }

Status ClientPool::SetTls(const std::string& ca_file, const std::string& cert_file,
                          const std::string& key_file) {
  return impl_->SetCa(ca_file, cert_file, key_file);
}

void ClientPool::CloseIdle() {
  std::lock_guard lock(impl_->mu);
  impl_->idle.clear();
  impl_->idle_total = 0;
}

asio::awaitable<StatusOr<ClientResponse>> ClientPool::Send(ClientRequest request) {
  auto impl = impl_;  // keeps the pool state alive for the duration of the call
  auto target = ParseTarget(request.url);
  if (!target.ok()) co_return target.status();
  for (const auto& [k, v] : request.headers) {
    if (Status st = CheckHeader(k, v); !st.ok()) co_return st;
  }
  auto timeout = std::chrono::milliseconds(request.timeout_ms > 0 ? request.timeout_ms : 3000);
  const std::string key = target->key();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto gate = impl->Gate(key);
  const bool host_slot = co_await gate->Acquire(deadline);
  struct Release {
    Impl* impl;
    const std::string& key;
    const std::shared_ptr<AsyncGate>& gate;
    bool held;
    ~Release() {
      if (held) impl->ReleaseGate(key, gate);
    }
  } release{impl.get(), key, gate, host_slot};
  if (!host_slot) {
    co_return Status::Unavailable("timeout after " + std::to_string(timeout.count()) +
                                  " ms waiting for one of the " +
                                  std::to_string(impl->options.max_conns_per_host) +
                                  " connections to " + key + " (all busy)");
  }
  if (!co_await impl->total.Acquire(deadline)) {
    co_return Status::Unavailable(
        "timeout after " + std::to_string(timeout.count()) + " ms waiting for one of the " +
        std::to_string(impl->options.max_conns_total) + " outbound connections (all busy)");
  }
  struct ReleaseTotal {
    AsyncGate& g;
    ~ReleaseTotal() { g.Release(); }
  } release_total{impl->total};
  std::string what;
  try {
    bhttp::request<bhttp::string_body> req{ToVerb(request.method), target->path_and_query, 11};
    req.set(bhttp::field::host, target->host + ":" + target->port);
    req.set(bhttp::field::user_agent, "dtmd");
    for (const auto& [k, v] : request.headers) req.set(k, v);
    req.keep_alive(true);
    if (!request.body.empty() || req.method() != bhttp::verb::get) {
      req.body() = std::move(request.body);
      req.prepare_payload();
    }
    co_return co_await impl->Exchange(request, *target, req, timeout);
  } catch (const std::exception& e) {
    what = e.what();
  }
  co_return Status::Unavailable("calling " + request.url + ": " + what);
}

asio::awaitable<StatusOr<ClientResponse>> ClientPool::Impl::Exchange(
    const ClientRequest& request, const Target& target, bhttp::request<bhttp::string_body>& req,
    std::chrono::milliseconds timeout) {
  const std::string key = target.key();
  std::shared_ptr<ssl::context> tls_ctx;
  if (target.tls) {
    std::lock_guard lock(mu);
    if (!tls && tls_status.ok()) {
      auto made = MakeClientTlsContext("");
      if (made.ok()) {
        tls = std::move(*made);
      } else {
        tls_status = made.status();
      }
    }
    if (!tls) co_return Status::Unavailable("https is unavailable: " + tls_status.message());
    tls_ctx = tls;
  }
  // The admitted addresses, resolved once per request: up front when the request has an address
  // check (it holds even when a pooled connection would serve it), else when a connection is
  // opened.
  std::optional<std::vector<tcp::endpoint>> endpoints;
  if (request.address_check != nullptr) {
    auto checked = co_await Resolve(target, request.address_check);
    if (!checked.ok()) co_return checked.status();
    endpoints = std::move(*checked);
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto conn = TakeIdle(key);
    const bool reused = conn != nullptr;
    if (!conn) {
      if (!endpoints) {
        auto resolved = co_await Resolve(target, nullptr);
        if (!resolved.ok()) co_return resolved.status();
        endpoints = std::move(*resolved);
      }
      conn = std::make_unique<Conn>(executor, tls_ctx);
      conn->lowest().expires_after(timeout);
      auto [ec, ep] = co_await conn->lowest().async_connect(*endpoints, kTuple);
      if (ec) {
        co_return Status::Unavailable("connect " + key + ": " + ec.message());
      }
      beast::error_code ignored;
      conn->lowest().socket().set_option(tcp::no_delay(true), ignored);
      if (conn->secure) {
        // SNI for names (not for addresses), and the certificate must name the host.
        beast::error_code addr_ec;
        asio::ip::make_address(target.host, addr_ec);
        if (addr_ec) SSL_set_tlsext_host_name(conn->secure->native_handle(), target.host.c_str());
        conn->secure->set_verify_callback(ssl::host_name_verification(target.host));
        auto [hec] = co_await conn->secure->async_handshake(ssl::stream_base::client, kTuple);
        if (hec) {
          co_return Status::Unavailable("TLS handshake with " + key + ": " + hec.message());
        }
      }
    }
    conn->lowest().expires_after(timeout);
    // No co_await inside a conditional expression: GCC 12 miscompiles the temporaries of one.
    Outcome out;
    if (conn->plain) {
      out = co_await RoundTrip(*conn->plain, *conn, reused, request, req, timeout);
    } else {
      out = co_await RoundTrip(*conn->secure, *conn, reused, request, req, timeout);
    }
    if (out.retry) continue;
    if (out.reusable) GiveBack(key, std::move(conn));
    co_return std::move(*out.result);
  }
  co_return Status::Unavailable("connection to " + key + " closed twice");
}

template <class Stream>
asio::awaitable<Outcome> ClientPool::Impl::RoundTrip(Stream& stream, Conn& conn, bool reused,
                                                     const ClientRequest& request,
                                                     bhttp::request<bhttp::string_body>& req,
                                                     std::chrono::milliseconds timeout) {
  Outcome out;
  auto [wec, written] = co_await bhttp::async_write(stream, req, kTuple);
  if (wec) {
    out.retry = reused;  // a stale keep-alive connection: retry once on a fresh one
    out.result = Status::Unavailable("write " + request.url + ": " + wec.message());
    co_return out;
  }
  // Interim 1xx replies (100 Continue, 103 Early Hints) precede the real one: skip them, so
  // that the real reply is not left on the connection for the next call to read.
  for (int interim = 0;; ++interim) {
    ReplyParser parser;
    ConfigureReplyParser(parser, options.max_response_body);
    auto [rec, read] = co_await bhttp::async_read(stream, conn.buffer, parser, kTuple);
    if (rec) {
      // The server closed an idle connection just as we reused it: nothing was processed.
      if (reused && read == 0 && interim == 0 &&
          (rec == bhttp::error::end_of_stream || rec == asio::error::eof ||
           rec == asio::error::connection_reset || rec == ssl::error::stream_truncated)) {
        out.retry = true;
        co_return out;
      }
      if (rec == beast::error::timeout) {
        out.result = Status::Unavailable("timeout after " + std::to_string(timeout.count()) +
                                         " ms calling " + request.url);
      } else {
        out.result = Status::Unavailable("read " + request.url + ": " + rec.message());
      }
      co_return out;
    }
    auto res = parser.release();
    const int status = static_cast<int>(res.result_int());
    if (IsInterim(status)) {
      if (interim < kMaxInterimReplies) continue;
      out.result = Status::Unavailable("read " + request.url + ": too many 1xx replies");
      co_return out;
    }
    // Bytes after the reply are a second reply nobody asked for: never reuse that connection.
    out.reusable = res.keep_alive() && conn.buffer.size() == 0;
    out.result = ClientResponse{status, std::move(res.body())};
    co_return out;
  }
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
