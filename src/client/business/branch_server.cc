#include <lynx/dtm/branch_server.h>

#include <spdlog/spdlog.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <thread>
#include <vector>

#include "client/transports/call_util.h"
#include "common/http_server.h"

namespace lynx::dtm {

namespace asio = boost::asio;

StatusOr<Json> BranchRequest::JsonBody() const {
  if (body.empty()) return Json();
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("request body is not JSON: " + body);
  return j;
}

HttpAnswer HttpAnswerFor(const Status& status, const std::string& ok_body) {
  auto with_message = [&](const char* result) {
    return Json{{"dtm_result", result}, {"message", status.message()}}.dump(
        -1, ' ', false, Json::error_handler_t::replace);
  };
  switch (status.code()) {
    case StatusCode::kOk:
      return {200, ok_body.empty() ? R"({"dtm_result":"SUCCESS"})" : ok_body};
    case StatusCode::kFailure:
      return {409, with_message("FAILURE")};
    case StatusCode::kOngoing:
      return {425, with_message("ONGOING")};
    default:
      return {500, Json{{"message", status.message()}}.dump(-1, ' ', false,
                                                            Json::error_handler_t::replace)};
  }
}

struct HttpBranchServer::Impl {
  Options options;
  std::map<std::pair<std::string, std::string>, JsonHandler> routes;  // (method, path)
  asio::io_context io;
  std::unique_ptr<http::Server> server;
  std::vector<std::thread> threads;
  bool started = false;

  // Runs the handler inline on this worker thread (handlers block on databases and on DTM);
  // other connections proceed on the other workers.
  asio::awaitable<http::ServerReply> Serve(http::ServerRequest& r) {
    auto it = routes.find({r.method, r.path});
    if (it == routes.end()) {
      co_return http::JsonMessage(404, "no handler for " + r.method + " " + r.path);
    }
    BranchRequest req{r.method,           r.path,
                      std::move(r.query), std::move(r.headers),
                      std::move(r.body),  Context::Background()};
    req.context = Context::Background().WithHeaders(req.headers);
    Status st;
    std::string ok_body;
    try {
      auto out = it->second(req);
      if (out.ok()) {
        if (!out->is_null()) ok_body = out->dump(-1, ' ', false, Json::error_handler_t::replace);
      } else {
        st = out.status();
      }
    } catch (...) {
      st = Status::Internal("handler " + r.path +
                            " threw: " + internal::ExceptionText(std::current_exception()));
      spdlog::error("{}", st.message());
    }
    HttpAnswer answer = HttpAnswerFor(st, ok_body);
    co_return http::ServerReply{answer.status, std::move(answer.body)};
  }
};

HttpBranchServer::HttpBranchServer() : HttpBranchServer(Options{}) {}

HttpBranchServer::HttpBranchServer(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

HttpBranchServer::~HttpBranchServer() { Stop(); }

HttpBranchServer& HttpBranchServer::Handle(const std::string& method, const std::string& path,
                                           Handler handler) {
  return HandleJson(method, path,
                    [h = std::move(handler)](const BranchRequest& req) -> StatusOr<Json> {
                      Status st = h(req);
                      if (!st.ok()) return st;
                      return Json();
                    });
}

HttpBranchServer& HttpBranchServer::HandleJson(const std::string& method, const std::string& path,
                                               JsonHandler handler) {
  impl_->routes[{method, path}] = std::move(handler);
  return *this;
}

Status HttpBranchServer::Start() {
  if (impl_->started) return Status::InvalidArgument("HttpBranchServer already started");
  if (impl_->options.threads < 1) {
    return Status::InvalidArgument("HttpBranchServer threads must be at least 1");
  }
  http::ServerOptions so;
  so.max_body_bytes = impl_->options.max_body_bytes;
  impl_->server = std::make_unique<http::Server>(
      impl_->io, so, [impl = impl_.get()](http::ServerRequest& r) { return impl->Serve(r); });
  if (Status st = impl_->server->Listen(impl_->options.address, impl_->options.port); !st.ok()) {
    impl_->server.reset();
    return st;
  }
  impl_->server->Start();
  impl_->started = true;
  for (int i = 0; i < impl_->options.threads; ++i) {
    impl_->threads.emplace_back([impl = impl_.get()] { impl->io.run(); });
  }
  return Status::Ok();
}

void HttpBranchServer::Stop() {
  if (!impl_->started) return;
  impl_->started = false;
  impl_->io.stop();
  for (auto& t : impl_->threads) t.join();
  impl_->threads.clear();
  impl_->server->Stop();
}

uint16_t HttpBranchServer::port() const {
  return impl_->server ? impl_->server->port() : impl_->options.port;
}

std::string HttpBranchServer::Url(const std::string& path) const {
  return "http://" + impl_->options.address + ":" + std::to_string(port()) + path;
}

}  // namespace lynx::dtm
