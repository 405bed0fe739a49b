// Serving branch handlers over HTTP. A handler gets the request — query, headers, body, and a
// lynx::Context holding the incoming headers (so pass_through_headers reach the calls it makes) —
// and returns a status; the server answers as DTM expects (Go's Result2HttpJSON):
//   Ok -> 200 {"dtm_result":"SUCCESS"}          Failure -> 409 {"dtm_result":"FAILURE",...}
//   Ongoing -> 425 {"dtm_result":"ONGOING",...}  anything else, or an exception -> 500
//   lynx::dtm::HttpBranchServer server({.port = 8081});
//   server.Handle("POST", "/api/TransOut", [&](const lynx::dtm::BranchRequest& req) {
//     auto bb = req.Barrier();
//     if (!bb.ok()) return bb.status();
//     return handler.HandleSAGA(*bb, [&](lynx::dtm::SqlDb& tx) { ... });
//   });
//   lynx::Status st = server.Start();
// Handlers run on the server's worker threads (Options::threads), several at once: they must be
// thread-safe (use an SqlDbPool, not one shared connection). No Boost type appears here.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <lynx/context.h>
#include <lynx/dtm/barrier.h>
#include <lynx/dtm/json.h>
#include <lynx/status.h>

namespace lynx::dtm {

struct BranchRequest {
  std::string method;
  std::string path;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  Context context;  // Background() plus the incoming headers

  // The barrier named by the query (trans_type, gid, branch_id, op).
  StatusOr<BranchBarrier> Barrier() const { return BranchBarrier::FromQuery(query); }
  // The body parsed as JSON; InvalidArgument when it is not JSON (an empty body is null).
  StatusOr<Json> JsonBody() const;
};

struct HttpAnswer {
  int status = 200;
  std::string body;
};

// The HTTP answer for a handler's status (the table above); `ok_body` replaces the SUCCESS body.
HttpAnswer HttpAnswerFor(const Status& status, const std::string& ok_body = "");

class HttpBranchServer {
 public:
  struct Options {
    std::string address = "127.0.0.1";
    uint16_t port = 0;  // 0: any free port (see port())
    int threads = 4;    // handlers running at once
    uint64_t max_body_bytes = 4 << 20;
  };
  using Handler = std::function<Status(const BranchRequest&)>;
  // Answers 200 with the returned JSON on success (e.g. an XA or query handler's result).
  using JsonHandler = std::function<StatusOr<Json>(const BranchRequest&)>;

  HttpBranchServer();
  explicit HttpBranchServer(Options options);
  ~HttpBranchServer();  // stops
  HttpBranchServer(const HttpBranchServer&) = delete;
  HttpBranchServer& operator=(const HttpBranchServer&) = delete;

  // Routes (register before Start). A request for an unknown path is answered 404.
  HttpBranchServer& Handle(const std::string& method, const std::string& path, Handler handler);
  HttpBranchServer& HandleJson(const std::string& method, const std::string& path,
                               JsonHandler handler);

  // Binds and starts the worker threads; the error names the address.
  Status Start();
  // Stops accepting and joins the threads (a handler in progress finishes first; its reply may
  // be lost, which DTM treats as a failed call and retries). Idempotent; a stopped server is not
  // started again.
  void Stop();
  uint16_t port() const;
  // "http://<address>:<port><path>".
  std::string Url(const std::string& path = "") const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lynx::dtm
