#include "client/transports/transport.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <exception>
#include <future>
#include <mutex>
#include <thread>

#include "common/dtm_result.h"
#include "common/http_client.h"

namespace lynx::dtm::internal {

namespace asio = boost::asio;

namespace {

class AsioTransport : public Transport {
 public:
  AsioTransport() : work_(asio::make_work_guard(io_)), pool_(io_.get_executor()) {
    thread_ = std::thread([this] { io_.run(); });
  }

  ~AsioTransport() override {
    work_.reset();
    io_.stop();
    if (thread_.joinable()) thread_.join();
  }

  StatusOr<HttpReply> Do(HttpRequest request) override {
    if (io_.get_executor().running_in_this_thread()) {
      return Status::Internal("DTM client: a blocking call from the transport's own thread");
    }
    http::ClientRequest req;
    req.method = std::move(request.method);
    req.url = std::move(request.url);
    req.headers = std::move(request.headers);
    req.body = std::move(request.body);
    req.timeout_ms = request.timeout_ms > 0 ? request.timeout_ms : 1;
    // ClientResponse's StatusOr has no default constructor, which co_spawn's use_future needs:
    // the coroutine fulfils a promise itself.
    auto promise = std::make_shared<std::promise<StatusOr<http::ClientResponse>>>();
    auto future = promise->get_future();
    asio::co_spawn(
        io_,
        [this, promise, req = std::move(req)]() mutable -> asio::awaitable<void> {
          promise->set_value(co_await pool_.Send(std::move(req)));
        },
        [promise](std::exception_ptr e) {
          if (e) promise->set_exception(e);
        });
    try {
      auto res = future.get();
      if (!res.ok()) return res.status();
      return HttpReply{res->status, std::move(res->body)};
    } catch (const std::exception& e) {
      return Status::Internal(std::string("DTM client transport: ") + e.what());
    }
  }

  Status SetTls(const std::string& ca_file, const std::string& cert_file,
                const std::string& key_file) override {
    return pool_.SetTls(ca_file, cert_file, key_file);
  }

 private:
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  http::ClientPool pool_;
  std::thread thread_;
};

std::mutex g_mu;
std::shared_ptr<Transport> g_test_transport;

}  // namespace

std::shared_ptr<Transport> Transport::Default() {
  {
    std::lock_guard lock(g_mu);
    if (g_test_transport) return g_test_transport;
  }
  // Created on first use, destroyed at exit (after main returns no transaction is running).
  static std::shared_ptr<Transport> real = std::make_shared<AsioTransport>();
  return real;
}

void Transport::SetDefaultForTest(std::shared_ptr<Transport> transport) {
  std::lock_guard lock(g_mu);
  g_test_transport = std::move(transport);
}

std::string AppendQuery(const std::string& url, const HeaderList& params) {
  return http::AppendQuery(url, params);
}

Status ClassifyDtmReply(int status, const std::string& body) {
  if (status == 425) return Status::Ongoing(WithDtmSuffix(body, StatusCode::kOngoing));
  if (status == 409 || body.find("FAILURE") != std::string::npos) {
    return Status::Failure(WithDtmSuffix(body, StatusCode::kFailure));
  }
  if (status != 200)
    return Status::Internal("DTM answered HTTP " + std::to_string(status) + ": " + body);
  return Status::Ok();
}

Status ClassifyBranchReply(int status, const std::string& body) {
  return ClassifyHttpReply(status, body);
}

}  // namespace lynx::dtm::internal
