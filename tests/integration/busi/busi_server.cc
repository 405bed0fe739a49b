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
// Single-threaded: every connection is a coroutine on one io_context, so the state needs no lock.
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

#include "common/http_server.h"

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

    Call call;
    call.seq = state_.next_seq++;
    call.route = path.substr(kBusiPrefix.size());
    call.method = req.method;
    call.query = std::move(req.query);
    call.headers = std::move(req.headers);  // names already lower-cased
    call.body = std::move(req.body);
    std::string result = Decide(call);
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

  std::string Decide(const Call& call) {
    const std::string& route = call.route;
    if (route == "TransOutHeaderYes" && !call.headers.count("test_header")) return "ERROR";
    if (route == "TransOutHeaderNo" && call.headers.count("test_header")) return "ERROR";
    auto& queue = state_.scripts[route];
    if (!queue.empty()) {
      std::string r = queue.front();
      queue.pop_front();
      return r;
    }
    std::string r = PayloadResult(route, call.body);
    if (!r.empty()) return r;
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
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << server.port() << "\n";
      if (!out) {
        std::cerr << "busi_server: cannot write " << tmp << "\n";
        return 1;
      }
    }
    std::rename(tmp.c_str(), port_file.c_str());  // readers never see a partial file
  }
  std::cerr << "busi_server listening on 127.0.0.1:" << server.port() << "\n";
  server.Start();
  io.run();
  return 0;
}
