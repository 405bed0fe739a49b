#include "server/http/http_server.h"

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

#include <charconv>
#include <map>

#include "common/clock.h"
#include "server/api.h"
#include "server/config.h"
#include "server/engine.h"
#include "server/metrics.h"
#include "server/trans_codec.h"

namespace lynx::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr const char* kVersion = "v1.19.0-dtmd-0.1.0";

struct Request {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::string body;
};

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json; charset=utf-8";
};

Reply Json(int status, std::string body) { return {status, std::move(body)}; }

Reply FromStatus(const Status& st, std::string ok_body = R"({"dtm_result":"SUCCESS"})") {
  switch (st.code()) {
    case StatusCode::kOk:
      return Json(200, std::move(ok_body));
    case StatusCode::kFailure:
      return Json(409, R"({"dtm_result":"FAILURE","message":)" +
                           JsonQuote(WithDtmSuffix(st.message(), StatusCode::kFailure)) + "}");
    case StatusCode::kOngoing:
      return Json(425, R"({"dtm_result":"ONGOING","message":)" +
                           JsonQuote(WithDtmSuffix(st.message(), StatusCode::kOngoing)) + "}");
    case StatusCode::kInvalidArgument:
      return Json(400, R"({"message":)" + JsonQuote(st.message()) + "}");
    default:
      return Json(500, R"({"message":)" + JsonQuote(st.message()) + "}");
  }
}

std::string Param(const Request& r, const std::string& key) {
  auto it = r.query.find(key);
  return it == r.query.end() ? std::string() : it->second;
}

// An integer query parameter; `fallback` when absent, InvalidArgument when malformed.
StatusOr<int64_t> IntParam(const Request& r, const std::string& key, int64_t fallback) {
  std::string v = Param(r, key);
  if (v.empty()) return fallback;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || ptr != v.data() + v.size()) {
    return Status::InvalidArgument("query parameter '" + key + "' must be an integer");
  }
  return out;
}

std::string GlobalsJson(const std::vector<store::TransGlobal>& gs) {
  std::string out = "[";
  for (size_t i = 0; i < gs.size(); ++i) {
    if (i) out += ',';
    out += EncodeGlobalJson(gs[i]);
  }
  return out + "]";
}

std::string KvsJson(const std::vector<store::KV>& kvs) {
  std::string out = "[";
  for (size_t i = 0; i < kvs.size(); ++i) {
    if (i) out += ',';
    out += EncodeKvJson(kvs[i]);
  }
  return out + "]";
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, HttpServerDeps d) : io(io), deps(d), acceptor(io) {}

  asio::io_context& io;
  HttpServerDeps deps;
  tcp::acceptor acceptor;

  Api& api() { return *deps.api; }

  asio::awaitable<Reply> HandleTrans(const Request& r, const std::string& api_name) {
    const bool require_type = api_name == "prepare" || api_name == "submit";
    auto t = DecodeTransRequest(r.body, require_type);
    if (!t.ok()) co_return FromStatus(t.status());
    if (api_name == "prepare") co_return FromStatus(co_await api().Prepare(std::move(*t)));
    if (api_name == "submit") co_return FromStatus(co_await api().Submit(std::move(*t)));
    if (api_name == "abort") co_return FromStatus(co_await api().Abort(std::move(*t)));
    if (api_name == "forceStop") co_return FromStatus(co_await api().ForceStop(t->g.gid));
    co_return FromStatus(co_await api().ResetNextCronTime(t->g.gid));
  }

  asio::awaitable<Reply> HandleQuery(const Request& r) {
    auto res = co_await api().Query(Param(r, "gid"));
    if (!res.ok()) co_return FromStatus(res.status());
    std::string body = R"({"transaction":)";
    body += res->global ? EncodeGlobalJson(*res->global) : "null";
    body += R"(,"branches":[)";
    for (size_t i = 0; i < res->branches.size(); ++i) {
      if (i) body += ',';
      body += EncodeBranchJson(res->branches[i]);
    }
    co_return Json(200, body + "]}");
  }

  asio::awaitable<Reply> HandleAll(const Request& r) {
    AllRequest req;
    req.gid = Param(r, "gid");
    req.position = Param(r, "position");
    req.cond.status = Param(r, "status");
    req.cond.trans_type = Param(r, "transType");
    auto limit = IntParam(r, "limit", 100);
    auto start = IntParam(r, "createTimeStart", 0);
    auto end = IntParam(r, "createTimeEnd", 0);
    for (const auto* p : {&limit, &start, &end}) {
      if (!p->ok()) co_return FromStatus(p->status());
    }
    if (*limit <= 0) co_return FromStatus(Status::InvalidArgument("limit must be positive"));
    req.limit = *limit;
    // DTM truncates the millisecond bounds to seconds.
    req.cond.create_time_start = *start / 1000 * 1000;
    req.cond.create_time_end = *end / 1000 * 1000;
    auto res = co_await api().All(std::move(req));
    if (!res.ok()) co_return FromStatus(res.status());
    std::string body = R"({"transactions":)";
    body += res->globals ? GlobalsJson(*res->globals) : "null";
    body += R"(,"next_position":)" + JsonQuote(res->next_position) + "}";
    co_return Json(200, body);
  }

  asio::awaitable<Reply> HandleResetCronTime(const Request& r) {
    auto timeout = IntParam(r, "timeout", -1);
    auto limit = IntParam(r, "limit", 100);
    if (!timeout.ok()) co_return FromStatus(timeout.status());
    if (!limit.ok()) co_return FromStatus(limit.status());
    if (*limit <= 0) co_return FromStatus(Status::InvalidArgument("limit must be positive"));
    auto res = co_await api().ResetCronTime(*timeout, *limit);
    if (!res.ok()) co_return FromStatus(res.status());
    co_return Json(200, std::string(R"({"has_remaining":)") +
                            (res->has_remaining ? "true" : "false") + R"(,"succeed_count":)" +
                            std::to_string(res->succeed_count) + "}");
  }

  asio::awaitable<Reply> HandleKv(const Request& r, const std::string& api_name) {
    if (api_name == "scanKV") {
      auto limit = IntParam(r, "limit", 100);
      if (!limit.ok()) co_return FromStatus(limit.status());
      if (*limit <= 0) co_return FromStatus(Status::InvalidArgument("limit must be positive"));
      auto page = co_await api().ScanKV(Param(r, "cat"), Param(r, "position"), *limit);
      if (!page.ok()) co_return FromStatus(page.status());
      co_return Json(200, R"({"kv":)" + KvsJson(page->kv) + R"(,"next_position":)" +
                              JsonQuote(page->next_position) + "}");
    }
    auto kvs = co_await api().QueryKV(Param(r, "cat"), Param(r, "key"));
    if (!kvs.ok()) co_return FromStatus(kvs.status());
    co_return Json(200, R"({"kv":)" + KvsJson(*kvs) + "}");
  }

  asio::awaitable<Reply> HandleTestControl(const Request& r, const std::string& what) {
    if (deps.test_clock == nullptr) {
      co_return Json(404, R"({"message":"test control is disabled"})");
    }
    if (what == "cronOnce" && r.method == "POST") {
      // DTM's cronTransOnceForwardNow: time moves forward for this pass only.
      auto forward = IntParam(r, "forward", 0);
      if (!forward.ok()) co_return FromStatus(forward.status());
      deps.test_clock->Shift(*forward * 1000);
      std::string gid = co_await deps.engine->CronOnce(0);
      deps.test_clock->Shift(-*forward * 1000);
      co_return Json(200, R"({"gid":)" + JsonQuote(gid) + "}");
    }
    if (what == "passes" && r.method == "GET") {
      co_return Json(
          200, R"({"passes":)" + std::to_string(deps.engine->PassCount(Param(r, "gid"))) + "}");
    }
    if (what == "shiftTime" && r.method == "POST") {
      auto seconds = IntParam(r, "seconds", 0);
      if (!seconds.ok()) co_return FromStatus(seconds.status());
      deps.test_clock->Shift(*seconds * 1000);
      co_return Json(200, R"({"dtm_result":"SUCCESS"})");
    }
    co_return Json(404, R"({"message":"unknown test control route"})");
  }

  asio::awaitable<Reply> Route(const Request& r, std::string* api_name) {
    static constexpr std::string_view kPrefix = "/api/dtmsvr/";
    const std::string& m = r.method;
    if (r.path == "/api/ping") co_return Json(200, R"({"msg":"pong"})");
    if (r.path == "/api/metrics" && m == "GET") {
      Reply rep{200, deps.metrics ? deps.metrics->Serialize() : "",
                "text/plain; version=0.0.4; charset=utf-8"};
      co_return rep;
    }
    if (r.path.rfind("/api/test/", 0) == 0) {
      co_return co_await HandleTestControl(r, r.path.substr(10));
    }
    if (r.path.rfind(kPrefix, 0) != 0) co_return NotFound(r);
    std::string name = r.path.substr(kPrefix.size());
    *api_name = name;
    if (m == "GET") {
      if (name == "version") co_return Json(200, std::string(R"({"version":")") + kVersion + "\"}");
      if (name == "newGid") {
        co_return Json(200, R"({"gid":")" + api().NewGid() + R"(","dtm_result":"SUCCESS"})");
      }
      if (name == "query") co_return co_await HandleQuery(r);
      if (name == "all") co_return co_await HandleAll(r);
      if (name == "resetCronTime") co_return co_await HandleResetCronTime(r);
      if (name == "subscribe") {
        co_return FromStatus(
            co_await api().Subscribe(Param(r, "topic"), Param(r, "url"), Param(r, "remark")));
      }
      if (name == "unsubscribe") {
        co_return FromStatus(co_await api().Unsubscribe(Param(r, "topic"), Param(r, "url")));
      }
      if (name == "scanKV" || name == "queryKV") co_return co_await HandleKv(r, name);
    } else if (m == "POST") {
      if (name == "prepare" || name == "submit" || name == "abort" || name == "forceStop" ||
          name == "resetNextCronTime") {
        co_return co_await HandleTrans(r, name);
      }
      if (name == "registerBranch" || name == "registerXaBranch" || name == "registerTccBranch") {
        auto reg = DecodeBranchRegistration(r.body);
        if (!reg.ok()) co_return FromStatus(reg.status());
        co_return FromStatus(co_await api().RegisterBranch(std::move(*reg)));
      }
      if (name == "prepareWorkflow") {
        co_return FromStatus(
            Status::InvalidArgument("trans_type workflow is not supported by this dtmd version"));
      }
    } else if (m == "DELETE" && name.rfind("topic/", 0) == 0) {
      *api_name = "topic";
      co_return FromStatus(co_await api().DeleteTopic(name.substr(6)));
    }
    co_return NotFound(r);
  }

  static Reply NotFound(const Request& r) {
    return Json(404, R"({"message":)" + JsonQuote("no route for " + r.method + " " + r.path) + "}");
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    stream.socket().set_option(tcp::no_delay(true));
    beast::flat_buffer buffer;
    const uint64_t body_limit = static_cast<uint64_t>(deps.config->max_body_bytes);
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(body_limit);
      parser.header_limit(64 * 1024);
      stream.expires_after(std::chrono::minutes(2));  // idle keep-alive connections close
      auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      if (ec == bhttp::error::end_of_stream || ec == asio::error::eof) break;
      if (ec) {
        if (ec == bhttp::error::body_limit) {
          co_await Write(stream,
                         Json(413, R"({"message":"request body larger than )" +
                                       std::to_string(body_limit) + R"( bytes"})"),
                         false);
        } else if (ec != beast::error::timeout && ec != asio::error::connection_reset &&
                   ec != asio::error::operation_aborted) {
          co_await Write(
              stream,
              Json(400, R"({"message":)" + JsonQuote("bad HTTP request: " + ec.message()) + "}"),
              false);
        }
        break;
      }
      auto req = parser.release();
      const bool keep_alive = req.keep_alive();
      Request r;
      r.method = std::string(req.method_string());
      auto target = boost::urls::parse_origin_form(req.target());
      std::string api_name;
      Reply reply;
      if (!target) {
        reply = Json(400, R"({"message":"malformed request target"})");
      } else {
        r.path = std::string(target->path());
        for (auto p : target->params()) r.query[std::string(p.key)] = std::string(p.value);
        r.body = std::move(req.body());
        const UnixMs start = SteadyNowMs();
        reply = co_await Route(r, &api_name);
        if (deps.metrics && !api_name.empty()) {
          deps.metrics->ObserveApi("http", api_name, reply.status == 200,
                                   (SteadyNowMs() - start) / 1000.0);
        }
      }
      if (!co_await Write(stream, std::move(reply), keep_alive) || !keep_alive) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  asio::awaitable<bool> Write(beast::tcp_stream& stream, Reply reply, bool keep_alive) {
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

HttpServer::HttpServer(asio::io_context& io, HttpServerDeps deps)
    : impl_(std::make_shared<Impl>(io, deps)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Listen(const std::string& address, uint16_t port) {
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

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

void HttpServer::Start() { asio::co_spawn(impl_->io, impl_->Accept(), asio::detached); }

void HttpServer::Stop() {
  beast::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace lynx::server
