#include "server/http/http_server.h"

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include <charconv>
#include <map>
#include <set>

#include "common/async_gate.h"
#include "common/clock.h"
#include "common/http_server.h"
#include "common/json_util.h"
#include "common/time_format.h"
#include "server/api.h"
#include "server/config.h"
#include "server/engine.h"
#include "server/http/console_assets.h"
#include "server/http/console_route.h"
#include "server/http/json_rpc.h"
#include "server/metrics.h"
#include "server/retention.h"
#include "server/security/audit.h"
#include "server/security/auth.h"
#include "server/tracing/request_span.h"
#include "server/trans_codec.h"
#include "server/version.h"

namespace lynx::server {

namespace asio = boost::asio;

namespace {

constexpr size_t kConcurrentHeavyReads = 4;
// The console's per-status counts stop here (each reads up to this many rows; docs/limits.md).
constexpr int64_t kConsoleCountCap = 1000;

namespace bj = boost::json;
using Request = http::ServerRequest;
using Reply = http::ServerReply;

Reply Json(int status, std::string body) { return {status, std::move(body)}; }

bool IsKnownApi(const std::string& name) {
  static const std::set<std::string> kApis = {"version",
                                              "newGid",
                                              "query",
                                              "all",
                                              "attempts",
                                              "resetCronTime",
                                              "subscribe",
                                              "unsubscribe",
                                              "scanKV",
                                              "queryKV",
                                              "prepare",
                                              "submit",
                                              "abort",
                                              "forceStop",
                                              "resetNextCronTime",
                                              "registerBranch",
                                              "registerXaBranch",
                                              "registerTccBranch",
                                              "prepareWorkflow",
                                              "json-rpc"};
  return kApis.count(name) > 0;
}

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

std::string GlobalsJson(const std::vector<store::TransGlobal>& gs, const Redactor* redactor) {
  std::string out = "[";
  for (size_t i = 0; i < gs.size(); ++i) {
    if (i) out += ',';
    out += EncodeGlobalJson(gs[i], redactor);
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
  explicit Impl(HttpServerDeps d) : deps(d) {}

  HttpServerDeps deps;
  std::unique_ptr<http::Server> server;
  // Reads whose reply may be large (/query, /all, scanKV) run a few at a time: each holds its
  // rows and their JSON in memory while it is built, so many at once could use any amount.
  AsyncGate heavy_reads{kConcurrentHeavyReads};
  const UnixMs started_at = WallNow();

  // Runs a heavy read when a slot frees up (503 after 30 s of waiting).
  template <class F>
  asio::awaitable<Reply> HeavyRead(F read) {
    if (!co_await heavy_reads.Acquire(std::chrono::steady_clock::now() +
                                      std::chrono::seconds(30))) {
      co_return Json(503,
                     R"({"message":"server busy: too many large reads at once; retry later"})");
    }
    struct Release {
      AsyncGate& g;
      ~Release() { g.Release(); }
    } release{heavy_reads};
    co_return co_await read();
  }

  Api& api() { return *deps.api; }
  // Wall time, unshifted by the test clock: when this instance started, its uptime.
  static UnixMs WallNow() { return SystemClock().Now(); }

  // A page size: positive and at most Limits.MaxPageSize.
  Status CheckLimit(int64_t limit) const {
    const int64_t max = deps.config->limits.max_page_size;
    if (limit <= 0 || limit > max) {
      return Status::InvalidArgument("limit must be from 1 to " + std::to_string(max) +
                                     " (Limits.MaxPageSize)");
    }
    return Status::Ok();
  }

  // A new transaction joins the caller's trace (request_span.h); the body cannot set ext_data.
  RequestSpan JoinTrace(const Request& r, const std::string& api_name, Trans& t) const {
    auto header = [&r](const char* name) {
      auto it = r.headers.find(name);
      return it == r.headers.end() ? std::string_view() : std::string_view(it->second);
    };
    return RequestSpan(deps.spans, header("traceparent"), header("tracestate"), api_name, t);
  }

  asio::awaitable<Reply> HandleTrans(const Request& r, const std::string& api_name) {
    const bool require_type = api_name == "prepare" || api_name == "submit";
    auto t = DecodeTransRequest(r.body, require_type);
    if (!t.ok()) co_return FromStatus(t.status());
    if (require_type) {
      RequestSpan span = JoinTrace(r, api_name, *t);
      Status st;  // (no co_await inside ?: with GCC 12)
      if (api_name == "prepare") {
        st = co_await api().Prepare(std::move(*t));
      } else {
        st = co_await api().Submit(std::move(*t));
      }
      span.Finish(st);
      co_return FromStatus(st);
    }
    if (api_name == "abort") co_return FromStatus(co_await api().Abort(std::move(*t)));
    if (api_name == "forceStop") co_return FromStatus(co_await api().ForceStop(t->g.gid));
    co_return FromStatus(co_await api().ResetNextCronTime(t->g.gid));
  }

  // {"transaction": <global or null>, "<branches_key>": [<branch>...]}, secret headers redacted.
  std::string TransactionJson(const QueryResult& res, std::string_view branches_key) const {
    std::string body = R"({"transaction":)";
    body += res.global ? EncodeGlobalJson(*res.global, deps.redactor) : "null";
    body += ",\"";
    body += branches_key;
    body += "\":[";
    for (size_t i = 0; i < res.branches.size(); ++i) {
      if (i) body += ',';
      body += EncodeBranchJson(res.branches[i]);
    }
    return body + "]}";
  }

  // {"attempts": [{id, branch_id, op, start_time (RFC 3339), duration_ms, target, outcome,
  // code, detail, owner}, ...]}, oldest first (docs/operations.md).
  asio::awaitable<Reply> HandleAttempts(const Request& r) {
    auto res = co_await api().Attempts(Param(r, "gid"));
    if (!res.ok()) co_return FromStatus(res.status());
    bj::array list;
    for (const auto& a : *res) {
      list.push_back(bj::object{{"id", a.id},
                                {"branch_id", a.branch_id},
                                {"op", a.op},
                                {"start_time", FormatRfc3339(a.start_time)},
                                {"duration_ms", a.duration_ms},
                                {"target", a.target},
                                {"outcome", a.outcome},
                                {"code", a.code},
                                {"detail", a.detail},
                                {"owner", a.owner}});
    }
    co_return Json(200, bj::serialize(bj::object{{"attempts", std::move(list)}}));
  }

  asio::awaitable<Reply> HandleQuery(const Request& r) {
    auto res = co_await api().Query(Param(r, "gid"));
    if (!res.ok()) co_return FromStatus(res.status());
    co_return Json(200, TransactionJson(*res, "branches"));
  }

  // {"transaction": <global>, "progresses": [<branch>...]}: DTM's reply, which its workflow SDK
  // reads with protojson into DtmProgressesReply.
  asio::awaitable<Reply> HandlePrepareWorkflow(const Request& r) {
    auto t = DecodeTransRequest(r.body, true);
    if (!t.ok()) co_return FromStatus(t.status());
    RequestSpan span = JoinTrace(r, "prepareWorkflow", *t);
    auto res = co_await api().PrepareWorkflow(std::move(*t));
    span.Finish(res.status());
    if (!res.ok()) co_return FromStatus(res.status());
    co_return Json(200, TransactionJson(*res, "progresses"));
  }

  asio::awaitable<Reply> HandleAll(const Request& r) {
    AllRequest req;
    req.gid = Param(r, "gid");
    req.position = Param(r, "position");
    req.cond.status = Param(r, "status");
    req.cond.trans_type = Param(r, "transType");
    req.cond.gid_prefix = Param(r, "gidPrefix");
    if (req.cond.gid_prefix.size() > kMaxIdLength) {
      co_return FromStatus(Status::InvalidArgument("gidPrefix is longer than a gid (" +
                                                   std::to_string(kMaxIdLength) + " bytes)"));
    }
    req.overdue = Param(r, "overdue") == "1" || Param(r, "overdue") == "true";
    auto limit = IntParam(r, "limit", 100);
    auto start = IntParam(r, "createTimeStart", 0);
    auto end = IntParam(r, "createTimeEnd", 0);
    for (const auto* p : {&limit, &start, &end}) {
      if (!p->ok()) co_return FromStatus(p->status());
    }
    if (Status st = CheckLimit(*limit); !st.ok()) co_return FromStatus(st);
    req.limit = *limit;
    // DTM truncates the millisecond bounds to seconds.
    req.cond.create_time_start = *start / 1000 * 1000;
    req.cond.create_time_end = *end / 1000 * 1000;
    auto res = co_await api().All(std::move(req));
    if (!res.ok()) co_return FromStatus(res.status());
    std::string body = R"({"transactions":)";
    body += res->globals ? GlobalsJson(*res->globals, deps.redactor) : "null";
    body += R"(,"next_position":)" + JsonQuote(res->next_position) + "}";
    co_return Json(200, body);
  }

  // The console's counters (api.h Summary): {"counts": {status: n}, "count_cap", "overdue"}.
  asio::awaitable<Reply> HandleSummary() {
    auto res = co_await api().Summarize(kConsoleCountCap);
    if (!res.ok()) co_return FromStatus(res.status());
    bj::object counts;
    for (const auto& [status, n] : res->counts) counts[status] = n;
    co_return Json(200, bj::serialize(bj::object{{"counts", std::move(counts)},
                                                 {"count_cap", res->cap},
                                                 {"overdue", res->overdue}}));
  }

  // The console's server view: what this instance is, who is asking, and its effective config
  // (secrets hidden, config.h EffectiveConfig) as a nested object.
  Reply HandleServerInfo(const AuthDecision& who) const {
    bj::object config;
    for (const ConfigEntry& e : EffectiveConfig(*deps.config)) {
      bj::object* node = &config;
      std::string_view path = e.path;
      for (size_t dot; (dot = path.find('.')) != std::string_view::npos;
           path.remove_prefix(dot + 1)) {
        bj::value& child = (*node)[path.substr(0, dot)];
        if (!child.is_object()) child = bj::object();
        node = &child.as_object();
      }
      bj::value v;
      switch (e.kind) {
        case ConfigEntry::Kind::kNumber:
          v = std::stoll(e.values.at(0));
          break;
        case ConfigEntry::Kind::kBool:
          v = e.values.at(0) == "true";
          break;
        case ConfigEntry::Kind::kList:
          v = bj::value_from(e.values);
          break;
        default:
          v = e.values.at(0);
      }
      (*node)[path] = std::move(v);
    }
    const bool auth_on = deps.auth != nullptr && deps.auth->enabled();
    const UnixMs now = WallNow();
    return Json(
        200, bj::serialize(bj::object{{"version", kDtmdVersion},
                                      {"instance", InstanceOwner()},
                                      {"store", deps.config->store.driver},
                                      {"started_at", FormatRfc3339(started_at)},
                                      {"uptime_seconds", (now - started_at) / 1000},
                                      {"auth_enabled", auth_on},
                                      {"role", auth_on ? std::string(RoleName(who.role)) : "admin"},
                                      {"console_embedded", console::Embedded()},
                                      {"config", std::move(config)}}));
  }

  asio::awaitable<Reply> HandleResetCronTime(const Request& r) {
    auto timeout = IntParam(r, "timeout", -1);
    auto limit = IntParam(r, "limit", 100);
    if (!timeout.ok()) co_return FromStatus(timeout.status());
    if (!limit.ok()) co_return FromStatus(limit.status());
    if (Status st = CheckLimit(*limit); !st.ok()) co_return FromStatus(st);
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
      if (Status st = CheckLimit(*limit); !st.ok()) co_return FromStatus(st);
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
    if (what == "purgeOnce" && r.method == "POST" && deps.retention != nullptr) {
      // One retention round with the clock `forward` seconds ahead, as cronOnce does.
      auto forward = IntParam(r, "forward", 0);
      if (!forward.ok()) co_return FromStatus(forward.status());
      deps.test_clock->Shift(*forward * 1000);
      int64_t purged = co_await deps.retention->PurgeOnce();
      deps.test_clock->Shift(-*forward * 1000);
      co_return Json(200, R"({"purged":)" + std::to_string(purged) + "}");
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

  asio::awaitable<Reply> Route(const Request& r, const AuthDecision& who, std::string* api_name) {
    static constexpr std::string_view kPrefix = "/api/dtmsvr/";
    const std::string& m = r.method;
    if (r.path == "/api/ping") co_return Json(200, R"({"msg":"pong"})");
    if (auto page = ServeConsole(r, deps.config->admin_base_path)) co_return std::move(*page);
    if (r.path == "/api/admin/summary" && m == "GET") {
      *api_name = "admin/summary";
      co_return co_await HeavyRead([&] { return HandleSummary(); });
    }
    if (r.path == "/api/admin/server" && m == "GET") {
      *api_name = "admin/server";
      co_return HandleServerInfo(who);
    }
    if (r.path == "/api/metrics" && m == "GET") {
      Reply rep{200, deps.metrics ? deps.metrics->Serialize() : "",
                "text/plain; version=0.0.4; charset=utf-8"};
      co_return rep;
    }
    if (r.path.rfind("/api/test/", 0) == 0) {
      co_return co_await HandleTestControl(r, r.path.substr(10));
    }
    if (r.path == "/api/json-rpc" && m == "POST") {
      *api_name = "json-rpc";
      co_return Json(200, co_await HandleJsonRpc(api(), r.body));
    }
    if (r.path.rfind(kPrefix, 0) != 0) co_return NotFound(r);
    std::string name = r.path.substr(kPrefix.size());
    // Metric labels come from known routes only: any other path would add a label per request.
    if (IsKnownApi(name)) *api_name = name;
    if (m == "GET") {
      if (name == "version")
        co_return Json(200, std::string(R"({"version":")") + kDtmdVersion + "\"}");
      if (name == "newGid") {
        co_return Json(200, R"({"gid":")" + api().NewGid() + R"(","dtm_result":"SUCCESS"})");
      }
      if (name == "query") co_return co_await HeavyRead([&] { return HandleQuery(r); });
      if (name == "all") co_return co_await HeavyRead([&] { return HandleAll(r); });
      if (name == "attempts") co_return co_await HeavyRead([&] { return HandleAttempts(r); });
      if (name == "resetCronTime") co_return co_await HandleResetCronTime(r);
      if (name == "subscribe") {
        co_return FromStatus(
            co_await api().Subscribe(Param(r, "topic"), Param(r, "url"), Param(r, "remark")));
      }
      if (name == "unsubscribe") {
        co_return FromStatus(co_await api().Unsubscribe(Param(r, "topic"), Param(r, "url")));
      }
      if (name == "scanKV" || name == "queryKV") {
        co_return co_await HeavyRead([&] { return HandleKv(r, name); });
      }
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
      if (name == "prepareWorkflow") co_return co_await HandlePrepareWorkflow(r);
    } else if (m == "DELETE" && name.rfind("topic/", 0) == 0) {
      *api_name = "topic";
      co_return FromStatus(co_await api().DeleteTopic(name.substr(6)));
    }
    co_return NotFound(r);
  }

  static Reply NotFound(const Request& r) {
    return Json(404, R"({"message":)" + JsonQuote("no route for " + r.method + " " + r.path) + "}");
  }

  // The name a request is authorised and audited under (auth.h's AccessOf): known API names,
  // "ping", "metrics", "test", "topic"; "" for anything else (any valid token, then 404).
  static std::string AccessName(const Request& r) {
    static constexpr std::string_view kPrefix = "/api/dtmsvr/";
    if (r.path == "/api/ping") return "ping";
    if (r.path == "/" || r.path == "/admin" || r.path.rfind("/admin/", 0) == 0) return "console";
    if (r.path == "/api/admin/summary") return "admin/summary";
    if (r.path == "/api/admin/server") return "admin/server";
    if (r.path == "/api/metrics") return "metrics";
    if (r.path == "/api/json-rpc") return "json-rpc";
    if (r.path.rfind("/api/test/", 0) == 0) return "test";
    if (r.path.rfind(kPrefix, 0) != 0) return "";
    std::string name = r.path.substr(kPrefix.size());
    if (name.rfind("topic/", 0) == 0) return "topic";
    return IsKnownApi(name) ? name : "";
  }

  // What an audited request touched: its gid (query or JSON body), topic and subscriber URL.
  static std::string AuditDetail(const Request& r) {
    std::string gid = Param(r, "gid");
    if (gid.empty() && !r.body.empty()) {
      if (auto v = json::Parse(r.body); v.ok() && v->is_object()) {
        if (const auto* g = v->get_object().if_contains("gid"); g && g->is_string()) {
          gid = std::string(g->get_string());
        }
      }
    }
    std::string topic = Param(r, "topic");
    if (r.path.rfind("/api/dtmsvr/topic/", 0) == 0) topic = r.path.substr(18);
    std::string out;
    if (!gid.empty()) out += "gid=" + JsonQuote(gid.substr(0, 128));
    if (!topic.empty())
      out += (out.empty() ? "" : " ") + ("topic=" + JsonQuote(topic.substr(0, 128)));
    if (auto url = Param(r, "url"); !url.empty()) {
      out += (out.empty() ? "" : " ") + ("url=" + JsonQuote(url.substr(0, 256)));
    }
    return out.empty() ? "-" : out;
  }

  // One request: authenticate, route, audit admin actions, record the API's latency and outcome.
  asio::awaitable<Reply> Handle(Request& r) {
    std::string api_name;
    // Microseconds: most requests take less than a millisecond.
    const auto start = std::chrono::steady_clock::now();
    const std::string access = AccessName(r);
    AuthDecision who;
    if (deps.auth != nullptr) {
      auto h = r.headers.find("authorization");
      // The console asks who it is before it has a token: "sign in first" is an answer, not a
      // 401 (which browsers log as an error on every page load). Nothing else is said.
      if (h == r.headers.end() && access == "admin/server" && deps.auth->enabled()) {
        co_return Json(200, R"({"auth_enabled":true,"role":"none"})");
      }
      who = deps.auth->Check(h == r.headers.end() ? std::string_view() : h->second, access);
      if (!who.allowed()) {
        const bool unauthenticated = who.outcome == AuthDecision::Outcome::kUnauthenticated;
        Reply denied = http::JsonMessage(unauthenticated ? 401 : 403, who.message);
        if (unauthenticated)
          denied.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="dtmd")");
        if (IsAudited(access)) {
          Audit(access, who, r.peer, AuditDetail(r), Status::InvalidArgument(who.message));
        }
        co_return denied;
      }
    }
    Reply reply = co_await Route(r, who, &api_name);
    if (IsAudited(access) && access != "test") {
      Audit(access, who, r.peer, AuditDetail(r),
            reply.status == 200
                ? Status::Ok()
                : Status::Internal("HTTP " + std::to_string(reply.status) + " " + reply.body));
    }
    if (deps.metrics && !api_name.empty()) {
      deps.metrics->ObserveApi(
          "http", api_name, reply.status == 200,
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    co_return reply;
  }
};

HttpServer::HttpServer(asio::io_context& io, HttpServerDeps deps)
    : impl_(std::make_shared<Impl>(deps)) {
  http::ServerOptions options;
  options.max_body_bytes = static_cast<uint64_t>(deps.config->max_body_bytes);
  options.max_header_bytes = static_cast<uint32_t>(deps.config->limits.max_http_header_bytes);
  options.max_buffered_bytes = static_cast<uint64_t>(deps.config->limits.max_buffered_bytes);
  options.max_connections = deps.config->limits.max_connections;
  options.tls = deps.tls;
  impl_->server = std::make_unique<http::Server>(
      io, options, [impl = impl_.get()](Request& r) { return impl->Handle(r); });
}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Listen(const std::string& address, uint16_t port) {
  return impl_->server->Listen(address, port);
}

uint16_t HttpServer::port() const { return impl_->server->port(); }

void HttpServer::Start() { impl_->server->Start(); }

void HttpServer::Stop() { impl_->server->Stop(); }

}  // namespace lynx::server
