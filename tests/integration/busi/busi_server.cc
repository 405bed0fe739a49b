// busi_server: the scriptable business service of the integration tests (DTM's test/busi over
// HTTP). Every call under /api/busi/<Route> is recorded and answered by, in this order:
//   1. the route's scripted queue (POST /api/control/script?route=R, body ["ONGOING","ERROR"]),
//      one entry per call;
//   2. the payload field trans_out_result (TransOut* routes) / trans_in_result (TransIn* routes),
//      as DTM's busi does, for the forward routes (not *Revert / *Confirm);
//   3. the route's sticky default (POST /api/control/default?route=R, body "ONGOING"; "" clears);
//   4. SUCCESS.
// Results: SUCCESS = 200 {"dtm_result":"SUCCESS"}; FAILURE[:msg] = 409 {"error":msg};
// ONGOING = 425; ERROR = 500; OLD_FAILURE / OLD_ONGOING = 200 {"dtm_result":"FAILURE"/"ONGOING"}
// (pre-1.10 handlers; routes whose name ends in "Old" always answer that way);
// SLEEP:<ms>[:<result>] answers after a delay; HOLD:<gate>[:<result>] answers once
// POST /api/control/release?name=<gate> opened the gate (or after 60 s).
// TransOutHeaderYes / TransOutHeaderNo answer ERROR when the header test_header is missing /
// present. GET /api/control/calls?route=R&gid=G lists recorded calls (both filters optional);
// POST /api/control/reset forgets scripts, defaults, gates and calls.
//
// gRPC: the same routes are served on a second port as busi.Busi/<Route> (any method name), with
// the route recorded as "grpc:<Route>" (scripts and defaults use that name too). The request is a
// busi.ReqGrpc; its TransOutResult / TransInResult play the payload fields' part, and the body is
// recorded as JSON {"Amount":..,"TransOutResult":..,"TransInResult":..}; the dtm-gid,
// dtm-trans_type, dtm-branch_id and dtm-op metadata are recorded as the query gid, trans_type,
// branch_id and op, and all metadata as headers. Results map SUCCESS -> OK (empty reply), FAILURE
// -> ABORTED, ONGOING -> FAILED_PRECONDITION, ERROR -> INTERNAL.
//
// Single-threaded: every connection is a coroutine on one io_context, so the state needs no lock
// (gRPC calls are handed from gRPC's threads to that io_context).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <boost/asio/co_spawn.hpp>

#include "common/http_server.h"
#include "proto/busi.pb.h"

namespace {

namespace asio = boost::asio;
namespace bj = boost::json;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kBusiPrefix = "/api/busi/";
constexpr std::string_view kControlPrefix = "/api/control/";

struct Call {
  int64_t seq = 0;
  std::string route;
  std::string method;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string result;
};

using Reply = lynx::http::ServerReply;

// A gate that held calls wait on. Opening it cancels their timers.
struct Gate {
  bool open = false;
  std::vector<std::shared_ptr<asio::steady_timer>> waiters;
};

struct State {
  std::map<std::string, std::deque<std::string>> scripts;
  std::map<std::string, std::string> defaults;
  std::map<std::string, Gate> gates;
  std::vector<Call> calls;
  int64_t next_seq = 1;
};

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

Reply JsonReply(int status, const bj::value& v) { return Reply{status, bj::serialize(v)}; }

// The result named by the payload field, as DTM's busi reads trans_out_result/trans_in_result.
std::string PayloadResult(const std::string& route, const std::string& body) {
  if (route.find("Revert") != std::string::npos || route.find("Confirm") != std::string::npos) {
    return "";
  }
  const char* field = nullptr;
  if (StartsWith(route, "TransOut")) field = "trans_out_result";
  if (StartsWith(route, "TransIn")) field = "trans_in_result";
  if (field == nullptr || body.empty()) return "";
  boost::system::error_code ec;
  bj::value v = bj::parse(body, ec);
  if (ec || !v.is_object()) return "";
  // Go decodes JSON keys case-insensitively; DTM's busi even sends "trans_out_Result".
  for (const auto& kv : v.get_object()) {
    if (Lower(std::string(kv.key())) != field || !kv.value().is_string()) continue;
    std::string r(kv.value().get_string());
    return r == "SUCCESS" ? "" : r;
  }
  return "";
}

class BusiServer {
 public:
  // HTTP (keep-alive sessions, parsing, limits) is the shared lynx::http::Server; this class
  // only answers requests.
  explicit BusiServer(asio::io_context& io)
      : io_(io),
        server_(io, Options(), [this](lynx::http::ServerRequest& r) { return Handle(r); }) {}

  bool Listen(std::string* err) {
    lynx::Status st = server_.Listen("127.0.0.1", 0);
    if (!st.ok()) *err = st.message();
    return st.ok();
  }
  uint16_t port() const { return server_.port(); }
  void Start() { server_.Start(); }

 private:
  static lynx::http::ServerOptions Options() {
    lynx::http::ServerOptions o;
    o.max_body_bytes = 64 << 20;
    o.idle_timeout_seconds = 300;
    return o;
  }

  asio::awaitable<Reply> Handle(lynx::http::ServerRequest& req) {
    const std::string& path = req.path;
    if (StartsWith(path, kControlPrefix)) {
      co_return Control(req.method, path.substr(kControlPrefix.size()), req.query, req.body);
    }
    if (!StartsWith(path, kBusiPrefix)) co_return JsonReply(404, {{"error", "no such route"}});

    if (path.substr(kBusiPrefix.size()) == "json-rpc") co_return co_await JsonRpc(req);
    Call call;
    call.route = path.substr(kBusiPrefix.size());
    call.method = req.method;
    call.query = std::move(req.query);
    call.headers = std::move(req.headers);  // names already lower-cased
    call.body = std::move(req.body);
    std::string payload_result = PayloadResult(call.route, call.body);
    co_return co_await Serve(std::move(call), std::move(payload_result));
  }

 public:
  // A JSON-RPC branch call (POST /api/busi/json-rpc?method=R): recorded as route "jrpc:R" with
  // gid / trans_type / branch_id / op from the params, decided as route R would be, answered with
  // HTTP 200 and a JSON-RPC body: SUCCESS -> result; FAILURE -> error -32901 ("refused"),
  // ONGOING -> -32902 ("not yet"), ERROR -> -32603 (the messages avoid DTM's words so that the
  // numeric codes decide).
  asio::awaitable<Reply> JsonRpc(lynx::http::ServerRequest& req) {
    boost::system::error_code ec;
    bj::value v = bj::parse(req.body, ec);
    if (ec || !v.is_object()) co_return JsonReply(400, {{"error", "not JSON-RPC"}});
    const bj::object& o = v.get_object();
    const bj::value* params = o.if_contains("params");
    const bj::value* method = o.if_contains("method");
    const bj::value* id = o.if_contains("id");
    Call call;
    call.route = "jrpc:" + std::string(method && method->is_string() ? method->get_string() : "");
    call.method = req.method;
    call.headers = std::move(req.headers);
    if (params && params->is_object()) {
      for (const char* k : {"gid", "trans_type", "branch_id", "op"}) {
        if (const bj::value* f = params->get_object().if_contains(k); f && f->is_string()) {
          call.query[k] = std::string(f->get_string());
        }
      }
      call.body = bj::serialize(*params);
    }
    std::string payload_result = PayloadResult(call.route.substr(5), call.body);
    Reply http = co_await Serve(std::move(call), std::move(payload_result));
    bj::object out{{"jsonrpc", "2.0"}, {"id", id ? *id : bj::value(nullptr)}};
    auto error = [&out](int code, const char* message) {
      out["error"] = bj::object{{"code", code}, {"message", message}};
      out["result"] = nullptr;
    };
    if (http.status == 409 ||
        (http.status == 200 && http.body.find("FAILURE") != std::string::npos)) {
      error(-32901, "refused");
    } else if (http.status == 425) {
      error(-32902, "not yet");
    } else if (http.status != 200) {
      error(-32603, "busi error");
    } else {
      out["error"] = nullptr;
      out["result"] = bj::object{{"dtm_result", "SUCCESS"}};
    }
    co_return Reply{200, bj::serialize(out)};
  }

  // Records `call`, decides its result (payload_result: what the request's payload asks for) and
  // answers. Runs on the io_context.
  asio::awaitable<Reply> Serve(Call call, std::string payload_result) {
    call.seq = state_.next_seq++;
    std::string result = Decide(call, payload_result);
    state_.calls.push_back(call);
    const size_t index = state_.calls.size() - 1;
    const int64_t seq = call.seq;
    Reply reply = co_await Answer(call.route, result);
    // reset may have cleared the log while this call waited.
    if (index < state_.calls.size() && state_.calls[index].seq == seq) {
      state_.calls[index].result = result;
    }
    co_return reply;
  }

  asio::io_context& io() { return io_; }

 private:
  std::string Decide(const Call& call, const std::string& payload_result) {
    const std::string& route = call.route;
    if (route == "TransOutHeaderYes" && !call.headers.count("test_header")) return "ERROR";
    if (route == "TransOutHeaderNo" && call.headers.count("test_header")) return "ERROR";
    auto& queue = state_.scripts[route];
    if (!queue.empty()) {
      std::string r = queue.front();
      queue.pop_front();
      return r;
    }
    if (!payload_result.empty()) return payload_result;
    auto d = state_.defaults.find(route);
    if (d != state_.defaults.end() && !d->second.empty()) return d->second;
    return "SUCCESS";
  }

  asio::awaitable<Reply> Answer(const std::string& route, std::string result) {
    // Delays first: SLEEP:<ms>[:rest], HOLD:<gate>[:rest].
    for (;;) {
      if (StartsWith(result, "SLEEP:")) {
        std::string rest = result.substr(6);
        size_t colon = rest.find(':');
        int64_t ms = std::atoll(rest.substr(0, colon).c_str());
        result = colon == std::string::npos ? "SUCCESS" : rest.substr(colon + 1);
        asio::steady_timer timer(io_);
        timer.expires_after(std::chrono::milliseconds(ms));
        co_await timer.async_wait(kTuple);
        continue;
      }
      if (StartsWith(result, "HOLD:")) {
        std::string rest = result.substr(5);
        size_t colon = rest.find(':');
        std::string name = rest.substr(0, colon);
        result = colon == std::string::npos ? "SUCCESS" : rest.substr(colon + 1);
        Gate& gate = state_.gates[name];
        if (!gate.open) {
          auto timer = std::make_shared<asio::steady_timer>(io_);
          timer->expires_after(std::chrono::seconds(60));
          gate.waiters.push_back(timer);
          co_await timer->async_wait(kTuple);
        }
        continue;
      }
      break;
    }
    const bool old = EndsWith(route, "Old");
    auto old_style = [](const char* r) { return JsonReply(200, {{"dtm_result", r}}); };
    if (result == "SUCCESS") co_return JsonReply(200, {{"dtm_result", "SUCCESS"}});
    if (result == "OLD_FAILURE" || (old && StartsWith(result, "FAILURE"))) {
      co_return old_style("FAILURE");
    }
    if (result == "OLD_ONGOING" || (old && result == "ONGOING")) co_return old_style("ONGOING");
    if (result == "FAILURE") co_return JsonReply(409, {{"error", route + " returned FAILURE"}});
    if (StartsWith(result, "FAILURE:")) co_return JsonReply(409, {{"error", result.substr(8)}});
    if (result == "ONGOING") co_return JsonReply(425, {{"error", route + " returned ONGOING"}});
    if (result == "ERROR") co_return JsonReply(500, {{"error", route + ": injected error"}});
    co_return JsonReply(500, {{"error", "unknown scripted result '" + result + "'"}});
  }

  Reply Control(const std::string& method, const std::string& what,
                const std::map<std::string, std::string>& query, const std::string& body) {
    auto param = [&query](const char* k) {
      auto it = query.find(k);
      return it == query.end() ? std::string() : it->second;
    };
    if (what == "script" && method == "POST") {
      boost::system::error_code ec;
      bj::value v = bj::parse(body, ec);
      if (ec || !v.is_array()) return JsonReply(400, {{"error", "body must be a JSON array"}});
      std::deque<std::string> queue;
      for (const auto& e : v.get_array()) {
        if (!e.is_string()) return JsonReply(400, {{"error", "entries must be strings"}});
        queue.emplace_back(e.get_string());
      }
      state_.scripts[param("route")] = std::move(queue);
      return JsonReply(200, {{"dtm_result", "SUCCESS"}});
    }
    if (what == "default" && method == "POST") {
      boost::system::error_code ec;
      bj::value v = bj::parse(body, ec);
      if (ec || !v.is_string()) return JsonReply(400, {{"error", "body must be a JSON string"}});
      state_.defaults[param("route")] = std::string(v.get_string());
      return JsonReply(200, {{"dtm_result", "SUCCESS"}});
    }
    if (what == "release" && method == "POST") {
      Gate& gate = state_.gates[param("name")];
      gate.open = true;
      for (auto& t : gate.waiters) t->cancel();
      gate.waiters.clear();
      return JsonReply(200, {{"dtm_result", "SUCCESS"}});
    }
    if (what == "calls" && method == "GET") {
      const std::string route = param("route");
      const std::string gid = param("gid");
      bj::array out;
      for (const auto& c : state_.calls) {
        if (!route.empty() && c.route != route) continue;
        auto g = c.query.find("gid");
        if (!gid.empty() && (g == c.query.end() || g->second != gid)) continue;
        bj::object q, h;
        for (const auto& [k, v] : c.query) q[k] = v;
        for (const auto& [k, v] : c.headers) h[k] = v;
        out.push_back(bj::object{{"seq", c.seq},
                                 {"route", c.route},
                                 {"method", c.method},
                                 {"query", std::move(q)},
                                 {"headers", std::move(h)},
                                 {"body", c.body},
                                 {"result", c.result}});
      }
      return JsonReply(200, out);
    }
    if (what == "reset" && method == "POST") {
      for (auto& [name, gate] : state_.gates) {
        for (auto& t : gate.waiters) t->cancel();
      }
      state_ = State{};
      return JsonReply(200, {{"dtm_result", "SUCCESS"}});
    }
    return JsonReply(404, {{"error", "unknown control route " + method + " " + what}});
  }

  asio::io_context& io_;
  State state_;
  lynx::http::Server server_;  // last: destroyed first, before the state its handler uses
};

// The gRPC side: one reactor per call reads the request, hands it to the io_context, and answers.
class GrpcCall : public grpc::ServerGenericBidiReactor {
 public:
  GrpcCall(grpc::GenericCallbackServerContext* ctx, BusiServer& busi) : ctx_(ctx), busi_(busi) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    Call call;
    const std::string& method = ctx_->method();  // "/busi.Busi/TransOut"
    call.route = "grpc:" + method.substr(method.rfind('/') + 1);
    call.method = "GRPC";
    for (const auto& [k, v] : ctx_->client_metadata()) {
      std::string key(k.data(), k.size()), value(v.data(), v.size());
      call.headers[key] = value;
      if (key.rfind("dtm-", 0) == 0 && key != "dtm-dtm" && key != "dtm-phase2_url") {
        call.query[key.substr(4)] = value;
      } else if (key == "dtm-dtm") {
        call.query["dtm"] = value;
      } else if (key == "dtm-phase2_url") {
        call.query["phase2_url"] = value;
      }
    }
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (request_.Dump(&slices).ok()) {
      for (const auto& sl : slices)
        bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
    }
    std::string payload_result;
    busi::ReqGrpc req;
    if (req.ParseFromString(bytes)) {
      call.body = bj::serialize(bj::object{{"Amount", req.amount()},
                                           {"TransOutResult", req.transoutresult()},
                                           {"TransInResult", req.transinresult()}});
      std::string route = call.route.substr(5);
      if (route.find("Revert") == std::string::npos && route.find("Confirm") == std::string::npos) {
        if (StartsWith(route, "TransOut")) payload_result = req.transoutresult();
        if (StartsWith(route, "TransIn")) payload_result = req.transinresult();
        if (payload_result == "SUCCESS") payload_result.clear();
      }
    } else {
      call.body = "<malformed ReqGrpc of " + std::to_string(bytes.size()) + " bytes>";
    }
    asio::co_spawn(busi_.io(), busi_.Serve(std::move(call), std::move(payload_result)),
                   [this](std::exception_ptr, Reply reply) { Answer(reply); });
  }

  void OnWriteDone(bool) override {}
  void OnDone() override { delete this; }

 private:
  void Answer(const Reply& reply) {
    if (reply.status == 200) {
      grpc::Slice empty;  // a default ByteBuffer is not a message; an empty slice is
      response_ = grpc::ByteBuffer(&empty, 1);
      StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
      return;
    }
    std::string message = reply.body;
    boost::system::error_code ec;
    bj::value v = bj::parse(reply.body, ec);
    if (!ec && v.is_object() && v.as_object().contains("error") && v.at("error").is_string()) {
      message = std::string(v.at("error").get_string());
    }
    grpc::StatusCode code = grpc::StatusCode::INTERNAL;
    if (reply.status == 409) code = grpc::StatusCode::ABORTED;
    if (reply.status == 425) code = grpc::StatusCode::FAILED_PRECONDITION;
    Finish(grpc::Status(code, message));
  }

  grpc::GenericCallbackServerContext* ctx_;
  BusiServer& busi_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;  // empty: google.protobuf.Empty
};

class GrpcBusi : public grpc::CallbackGenericService {
 public:
  explicit GrpcBusi(BusiServer& busi) : busi_(busi) {}
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    return new GrpcCall(ctx, busi_);
  }

 private:
  BusiServer& busi_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string port_file;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
      port_file = argv[++i];
    } else {
      std::cerr << "usage: busi_server --port-file <file>\n";
      return 2;
    }
  }
  asio::io_context io(1);
  BusiServer server(io);
  std::string err;
  if (!server.Listen(&err)) {
    std::cerr << "busi_server: cannot listen: " << err << "\n";
    return 1;
  }
  GrpcBusi grpc_busi(server);
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &grpc_port);
  builder.RegisterCallbackGenericService(&grpc_busi);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  if (!grpc_server || grpc_port == 0) {
    std::cerr << "busi_server: cannot serve gRPC\n";
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << server.port() << "\n" << grpc_port << "\n";
      if (!out) {
        std::cerr << "busi_server: cannot write " << tmp << "\n";
        return 1;
      }
    }
    std::rename(tmp.c_str(), port_file.c_str());  // readers never see a partial file
  }
  std::cerr << "busi_server listening on 127.0.0.1:" << server.port() << ", gRPC " << grpc_port
            << "\n";
  server.Start();
  io.run();
  return 0;
}
