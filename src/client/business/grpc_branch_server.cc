#include <lynx/dtm/grpc_branch_server.h>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "client/transports/call_util.h"

namespace lynx::dtm {

namespace {

// How long Stop() lets calls in progress finish before gRPC cancels them. It also bounds calls
// that were opened but never sent their message, which would otherwise hold Stop() forever.
constexpr auto kShutdownGrace = std::chrono::seconds(5);

// The handlers' threads. Handlers block on databases and on DTM, so they must not run on gRPC's
// callback threads (which also deliver every other call's events).
class WorkerPool {
 public:
  void Start(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  // False once stopping: the caller answers the call itself.
  bool Post(std::function<void()> task) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return false;
      tasks_.push_back(std::move(task));
    }
    cv_.notify_one();
    return true;
  }
  // Runs what is queued, then joins. Idempotent.
  void StopAndJoin() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void Run() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
        if (tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

std::string ToString(grpc::string_ref s) { return std::string(s.data(), s.size()); }

bool IsBinaryKey(const std::string& key) {
  return key.size() >= 4 && key.compare(key.size() - 4, 4, "-bin") == 0;
}

StatusOr<std::string> ReadFile(const std::string& option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  if (!in || !(out << in.rdbuf())) {
    return Status::InvalidArgument("GrpcBranchServer cannot read " + option + " " + path);
  }
  return out.str();
}

// "host:port", with IPv6 literals in brackets.
std::string HostPort(const std::string& address, uint16_t port) {
  bool v6 = address.find(':') != std::string::npos && address.front() != '[';
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

int GrpcCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return kGrpcOk;
    case StatusCode::kFailure:
      return kGrpcAborted;
    case StatusCode::kOngoing:
      return kGrpcFailedPrecondition;
    case StatusCode::kInvalidArgument:
      return kGrpcInvalidArgument;
    default:
      return kGrpcInternal;
  }
}

namespace {

// The methods' handlers behind gRPC's generic callback service: each call gets a reactor.
class BranchService final : public grpc::CallbackGenericService {
 public:
  using Handler = GrpcBranchServer::Handler;
  std::map<std::string, Handler> handlers;  // by full method; read-only once started
  WorkerPool pool;

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

  // Reactors not yet done: the server is destroyed only after the last one's OnDone.
  void CallStarted() {
    std::lock_guard lock(mu_);
    ++active_calls_;
  }
  void CallDone() {
    std::lock_guard lock(mu_);
    if (--active_calls_ == 0) cv_.notify_all();
  }
  void WaitForCalls() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return active_calls_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int active_calls_ = 0;
};

// One unary call: reads the request message, runs the handler on a worker, writes the reply and
// finishes. Deletes itself when gRPC reports the call done.
class CallReactor final : public grpc::ServerGenericBidiReactor {
 public:
  CallReactor(BranchService* service, grpc::GenericCallbackServerContext* ctx,
              const GrpcBranchServer::Handler* handler)
      : service_(service), handler_(handler) {
    service_->CallStarted();
    request_.method = ctx->method();
    std::map<std::string, std::string> headers;
    for (const auto& [key, value] : ctx->client_metadata()) {
      std::string k = ToString(key);
      request_.metadata[k] = ToString(value);
      if (!IsBinaryKey(k)) headers[k] = ToString(value);
    }
    request_.context = Context::Background().WithHeaders(std::move(headers));
    // The caller's deadline (DTM's request_timeout) bounds what the handler waits for; gRPC
    // reports "none" as a time point far in the future.
    auto left = ctx->deadline() - std::chrono::system_clock::now();
    if (left < std::chrono::hours(24 * 365)) {
      request_.context = request_.context.WithDeadline(
          Context::Clock::now() + std::chrono::duration_cast<Context::Clock::duration>(left));
    }
    StartRead(&request_buffer_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {  // cancelled, or the client half-closed without a message
      Finish(grpc::Status(grpc::StatusCode::INTERNAL, "no request message"));
      return;
    }
    std::vector<grpc::Slice> slices;
    if (!request_buffer_.Dump(&slices).ok()) {
      Finish(grpc::Status(grpc::StatusCode::INTERNAL, "unreadable request message"));
      return;
    }
    for (const auto& s : slices) {
      request_.body.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    request_buffer_.Clear();
    if (!service_->pool.Post([this] { Serve(); })) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server stopping"));
    }
  }

  void OnCancel() override { request_.context.Cancel(); }

  void OnDone() override {
    BranchService* service = service_;
    delete this;
    service->CallDone();
  }

 private:
  // On a worker thread. Nothing may touch `this` after Finish / StartWriteAndFinish.
  void Serve() {
    Status st;
    std::string reply;
    try {
      auto out = (*handler_)(request_);
      if (out.ok()) {
        reply = std::move(out.value());
      } else {
        st = out.status();
      }
    } catch (...) {
      st = Status::Internal("handler " + request_.method +
                            " threw: " + internal::ExceptionText(std::current_exception()));
      spdlog::error("{}", st.message());
    }
    if (!st.ok()) {
      Finish(grpc::Status(static_cast<grpc::StatusCode>(GrpcCodeFor(st)), st.message()));
      return;
    }
    grpc::Slice slice(reply);
    reply_buffer_ = grpc::ByteBuffer(&slice, 1);
    StartWriteAndFinish(&reply_buffer_, grpc::WriteOptions(), grpc::Status::OK);
  }

  BranchService* service_;
  const GrpcBranchServer::Handler* handler_;
  GrpcBranchRequest request_;
  grpc::ByteBuffer request_buffer_;
  grpc::ByteBuffer reply_buffer_;
};

// A method without a handler: answered at once, naming the method (gRPC's default says nothing).
class UnimplementedReactor final : public grpc::ServerGenericBidiReactor {
 public:
  UnimplementedReactor(BranchService* service, const std::string& method) : service_(service) {
    service_->CallStarted();
    Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "unknown method " + method));
  }
  void OnDone() override {
    BranchService* service = service_;
    delete this;
    service->CallDone();
  }

 private:
  BranchService* service_;
};

}  // namespace

grpc::ServerGenericBidiReactor* BranchService::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  auto it = handlers.find(ctx->method());
  if (it == handlers.end()) return new UnimplementedReactor(this, ctx->method());
  return new CallReactor(this, ctx, &it->second);
}

struct GrpcBranchServer::Impl {
  Options options;
  BranchService service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;  // the bound one
  bool started = false;
  bool stopped = false;
};

GrpcBranchServer::GrpcBranchServer() : GrpcBranchServer(Options{}) {}

GrpcBranchServer::GrpcBranchServer(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}

GrpcBranchServer::~GrpcBranchServer() { Stop(); }

GrpcBranchServer& GrpcBranchServer::Handle(const std::string& full_method, Handler handler) {
  impl_->service.handlers[full_method] = std::move(handler);
  return *this;
}

namespace {

StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const GrpcBranchServer::Options& o) {
  if (o.cert_file.empty() && o.key_file.empty()) {
    if (!o.ca_file.empty()) {
      return Status::InvalidArgument("GrpcBranchServer ca_file needs cert_file and key_file");
    }
    return grpc::InsecureServerCredentials();
  }
  if (o.cert_file.empty() || o.key_file.empty()) {
    return Status::InvalidArgument("GrpcBranchServer needs both cert_file and key_file for TLS");
  }
  auto cert = ReadFile("cert_file", o.cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile("key_file", o.key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!o.ca_file.empty()) {
    auto ca = ReadFile("ca_file", o.ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = std::move(*ca);
    ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  ssl.pem_key_cert_pairs.push_back({std::move(*key), std::move(*cert)});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Status GrpcBranchServer::Start() {
  Impl& impl = *impl_;
  if (impl.started || impl.stopped) {
    return Status::InvalidArgument("GrpcBranchServer already started");
  }
  if (impl.options.threads < 1) {
    return Status::InvalidArgument("GrpcBranchServer threads must be at least 1");
  }
  auto creds = Credentials(impl.options);
  if (!creds.ok()) return creds.status();
  std::string address = HostPort(impl.options.address, impl.options.port);
  int max_bytes = static_cast<int>(std::min<uint64_t>(impl.options.max_message_bytes, INT_MAX));

  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default on Linux, which would let a second server "bind" a port in
  // use and silently share its calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, *creds, &impl.port);
  builder.SetMaxReceiveMessageSize(max_bytes);
  builder.SetMaxSendMessageSize(max_bytes);
  builder.RegisterCallbackGenericService(&impl.service);
  impl.server = builder.BuildAndStart();
  if (!impl.server || impl.port == 0) {
    if (impl.server) impl.server->Shutdown();
    impl.server.reset();
    bool tls = !impl.options.cert_file.empty();
    return Status::Unavailable("GrpcBranchServer cannot listen on " + address +
                               (tls ? " (or its TLS certificate or key is invalid)" : ""));
  }
  impl.service.pool.Start(impl.options.threads);
  impl.started = true;
  return Status::Ok();
}

void GrpcBranchServer::Stop() {
  Impl& impl = *impl_;
  if (!impl.started) return;
  impl.started = false;
  impl.stopped = true;
  impl.server->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  // Every call that reached a handler now finishes on the workers; later ones are refused.
  impl.service.pool.StopAndJoin();
  impl.service.WaitForCalls();
  impl.server.reset();
}

uint16_t GrpcBranchServer::port() const {
  return static_cast<uint16_t>(impl_->port != 0 ? impl_->port : impl_->options.port);
}

std::string GrpcBranchServer::Target(const std::string& full_method) const {
  return HostPort(impl_->options.address, port()) + full_method;
}

}  // namespace lynx::dtm
