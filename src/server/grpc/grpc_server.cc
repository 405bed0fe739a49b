#include "server/grpc/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "common/clock.h"
#include "common/log.h"
#include "proto/dtmgimp.grpc.pb.h"
#include "server/api.h"
#include "server/config.h"
#include "server/grpc/accept_watchdog.h"
#include "server/grpc/grpc_codec.h"
#include "server/metrics.h"
#include "server/security/audit.h"
#include "server/security/auth.h"
#include "server/tracing/request_span.h"
#include "server/trans_codec.h"

namespace lynx::server {

namespace asio = boost::asio;
using google::protobuf::Empty;

namespace {

grpc::Status ToGrpc(const Status& st) {
  switch (st.code()) {
    case StatusCode::kOk:
      return grpc::Status::OK;
    case StatusCode::kFailure:
      return {grpc::StatusCode::ABORTED, WithDtmSuffix(st.message(), StatusCode::kFailure)};
    case StatusCode::kOngoing:
      return {grpc::StatusCode::FAILED_PRECONDITION,
              WithDtmSuffix(st.message(), StatusCode::kOngoing)};
    case StatusCode::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, st.message()};
    default:
      return {grpc::StatusCode::INTERNAL, st.message()};
  }
}

StatusOr<std::string> ReadFile(const std::string& key, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  if (in) ss << in.rdbuf();
  if (!in || ss.str().empty()) {
    return Status::InvalidArgument("config key " + key + ": cannot read '" + path + "'");
  }
  return ss.str();
}

StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerConfig& c) {
  if (c.grpc_cert_file.empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadFile("GrpcCertFile", c.grpc_cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile("GrpcKeyFile", c.grpc_key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions opts;
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  if (!c.grpc_ca_file.empty()) {
    auto ca = ReadFile("GrpcCaFile", c.grpc_ca_file);
    if (!ca.ok()) return ca.status();
    opts.pem_root_certs = *ca;
    opts.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(opts);
}

// The service: every method decodes on gRPC's thread, then runs the core operation as a
// coroutine on dtmd's io threads and finishes the call from its completion (no thread blocks).
class DtmService final : public dtmgimp::Dtm::CallbackService {
 public:
  DtmService(asio::io_context& io, GrpcServerDeps deps) : io_(io), deps_(deps) {}

  grpc::ServerUnaryReactor* NewGid(grpc::CallbackServerContext* ctx, const Empty*,
                                   dtmgimp::DtmGidReply* reply) override {
    if (auto* denied = Authorize(ctx, "newGid", nullptr)) return denied;
    reply->set_gid(deps_.api->NewGid());
    return Done(ctx, "newGid", SteadyNowMs(), Status::Ok());
  }

  grpc::ServerUnaryReactor* Prepare(grpc::CallbackServerContext* ctx,
                                    const dtmgimp::DtmRequest* req, Empty*) override {
    return RunTrans(ctx, "prepare", *req, true, &Api::Prepare);
  }
  grpc::ServerUnaryReactor* Submit(grpc::CallbackServerContext* ctx, const dtmgimp::DtmRequest* req,
                                   Empty*) override {
    return RunTrans(ctx, "submit", *req, true, &Api::Submit);
  }
  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* ctx, const dtmgimp::DtmRequest* req,
                                  Empty*) override {
    return RunTrans(ctx, "abort", *req, false, &Api::Abort);
  }

  grpc::ServerUnaryReactor* RegisterBranch(grpc::CallbackServerContext* ctx,
                                           const dtmgimp::DtmBranchRequest* req, Empty*) override {
    if (auto* denied = Authorize(ctx, "registerBranch", nullptr)) return denied;
    const UnixMs start = SteadyNowMs();
    auto r = BranchRegistrationFromGrpc(*req);
    if (!r.ok()) return Done(ctx, "registerBranch", start, r.status());
    return Spawn(ctx, "registerBranch", start, deps_.api->RegisterBranch(std::move(*r)));
  }

  grpc::ServerUnaryReactor* PrepareWorkflow(grpc::CallbackServerContext* ctx,
                                            const dtmgimp::DtmRequest* req,
                                            dtmgimp::DtmProgressesReply* reply) override {
    if (auto* denied = Authorize(ctx, "prepareWorkflow", nullptr)) return denied;
    const UnixMs start = SteadyNowMs();
    auto t = TransFromGrpc(*req, true);
    if (!t.ok()) return Done(ctx, "prepareWorkflow", start, t.status());
    RequestSpan span = JoinTrace(ctx, "prepareWorkflow", *t);
    return Spawn(ctx, "prepareWorkflow", start,
                 Traced(std::move(span), PrepareWorkflowInto(std::move(*t), reply)));
  }

  grpc::ServerUnaryReactor* Subscribe(grpc::CallbackServerContext* ctx,
                                      const dtmgimp::DtmTopicRequest* req, Empty*) override {
    AuditInfo audit{ctx->peer(), TopicDetail(*req), {}};
    if (auto* denied = Authorize(ctx, "subscribe", &audit)) return denied;
    return Spawn(ctx, "subscribe", SteadyNowMs(), std::move(audit),
                 deps_.api->Subscribe(req->topic(), req->url(), req->remark()));
  }
  grpc::ServerUnaryReactor* Unsubscribe(grpc::CallbackServerContext* ctx,
                                        const dtmgimp::DtmTopicRequest* req, Empty*) override {
    AuditInfo audit{ctx->peer(), TopicDetail(*req), {}};
    if (auto* denied = Authorize(ctx, "unsubscribe", &audit)) return denied;
    return Spawn(ctx, "unsubscribe", SteadyNowMs(), std::move(audit),
                 deps_.api->Unsubscribe(req->topic(), req->url()));
  }
  grpc::ServerUnaryReactor* DeleteTopic(grpc::CallbackServerContext* ctx,
                                        const dtmgimp::DtmTopicRequest* req, Empty*) override {
    AuditInfo audit{ctx->peer(), TopicDetail(*req), {}};
    if (auto* denied = Authorize(ctx, "deleteTopic", &audit)) return denied;
    return Spawn(ctx, "deleteTopic", SteadyNowMs(), std::move(audit),
                 deps_.api->DeleteTopic(req->topic()));
  }

 private:
  using TransOp = asio::awaitable<Status> (Api::*)(Trans);

  // The stored workflow and its recorded steps, as DtmProgressesReply.
  asio::awaitable<Status> PrepareWorkflowInto(Trans t, dtmgimp::DtmProgressesReply* reply) {
    auto res = co_await deps_.api->PrepareWorkflow(std::move(t));
    if (!res.ok()) co_return res.status();
    if (res->global) {
      auto* tr = reply->mutable_transaction();
      tr->set_gid(res->global->gid);
      tr->set_status(res->global->status);
      tr->set_rollbackreason(res->global->rollback_reason);
      tr->set_result(res->global->result);
    }
    for (const auto& b : res->branches) {
      auto* p = reply->add_progresses();
      p->set_status(b.status);
      p->set_bindata(b.bin_data);
      p->set_branchid(b.branch_id);
      p->set_op(b.op);
    }
    co_return Status::Ok();
  }

  static std::string TopicDetail(const dtmgimp::DtmTopicRequest& req) {
    return "topic=" + JsonQuote(req.topic().substr(0, 128)) +
           (req.url().empty() ? "" : " url=" + JsonQuote(req.url().substr(0, 256)));
  }

  // Who asked for an admin method, written to the audit log with the outcome.
  struct AuditInfo {
    std::string peer;
    std::string detail;
    AuthDecision who;
  };

  // A new transaction joins the caller's trace (request_span.h).
  RequestSpan JoinTrace(grpc::CallbackServerContext* ctx, const char* api_name, Trans& t) const {
    const auto& md = ctx->client_metadata();
    auto get = [&md](const char* key) {
      auto it = md.find(key);
      return it == md.end() ? std::string_view()
                            : std::string_view(it->second.data(), it->second.size());
    };
    return RequestSpan(deps_.spans, get("traceparent"), get("tracestate"), api_name, t);
  }

  // `work`, then the request's span finished with its outcome.
  static asio::awaitable<Status> Traced(RequestSpan span, asio::awaitable<Status> work) {
    Status st = co_await std::move(work);
    span.Finish(st);
    co_return st;
  }

  // Null when the call may go on (then audit->who is the caller); else the reactor finished with
  // UNAUTHENTICATED or PERMISSION_DENIED (audited when `audit` is given).
  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* ctx, const char* api,
                                      AuditInfo* audit) {
    if (deps_.auth == nullptr) return nullptr;
    const auto& md = ctx->client_metadata();
    auto it = md.find("authorization");
    std::string_view authorization;
    if (it != md.end()) authorization = std::string_view(it->second.data(), it->second.size());
    AuthDecision who = deps_.auth->Check(authorization, api);
    if (audit != nullptr) {
      audit->who = who;
      if (!who.allowed()) {
        Audit(api, who, audit->peer, audit->detail, Status::InvalidArgument(who.message));
      }
    }
    if (who.allowed()) return nullptr;
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish({who.outcome == AuthDecision::Outcome::kUnauthenticated
                         ? grpc::StatusCode::UNAUTHENTICATED
                         : grpc::StatusCode::PERMISSION_DENIED,
                     who.message});
    return reactor;
  }

  grpc::ServerUnaryReactor* RunTrans(grpc::CallbackServerContext* ctx, const char* api_name,
                                     const dtmgimp::DtmRequest& req, bool require_type,
                                     TransOp op) {
    if (auto* denied = Authorize(ctx, api_name, nullptr)) return denied;
    const UnixMs start = SteadyNowMs();
    auto t = TransFromGrpc(req, require_type);
    if (!t.ok()) return Done(ctx, api_name, start, t.status());
    RequestSpan span;
    if (require_type) span = JoinTrace(ctx, api_name, *t);
    return Spawn(ctx, api_name, start, Traced(std::move(span), (deps_.api->*op)(std::move(*t))));
  }

  grpc::ServerUnaryReactor* Spawn(grpc::CallbackServerContext* ctx, const char* api_name,
                                  UnixMs start, asio::awaitable<Status> work) {
    return Spawn(ctx, api_name, start, std::nullopt, std::move(work));
  }

  grpc::ServerUnaryReactor* Spawn(grpc::CallbackServerContext* ctx, const char* api_name,
                                  UnixMs start, std::optional<AuditInfo> audit,
                                  asio::awaitable<Status> work) {
    auto* reactor = ctx->DefaultReactor();
    asio::co_spawn(io_, std::move(work),
                   [this, reactor, api_name, start, audit = std::move(audit)](std::exception_ptr e,
                                                                              Status st) {
                     if (e)
                       st = Status::Internal("unexpected exception in " + std::string(api_name));
                     if (audit) Audit(api_name, audit->who, audit->peer, audit->detail, st);
                     Finish(reactor, api_name, start, st);
                   });
    return reactor;
  }

  grpc::ServerUnaryReactor* Done(grpc::CallbackServerContext* ctx, const char* api_name,
                                 UnixMs start, const Status& st) {
    auto* reactor = ctx->DefaultReactor();
    Finish(reactor, api_name, start, st);
    return reactor;
  }

  void Finish(grpc::ServerUnaryReactor* reactor, const char* api_name, UnixMs start,
              const Status& st) {
    if (deps_.metrics) {
      deps_.metrics->ObserveApi("grpc", api_name, st.ok(), (SteadyNowMs() - start) / 1000.0);
    }
    reactor->Finish(ToGrpc(st));
  }

  asio::io_context& io_;
  GrpcServerDeps deps_;
};

}  // namespace

struct GrpcServer::Impl {
  Impl(asio::io_context& io, GrpcServerDeps d) : io(io), deps(d), service(io, d) {}
  asio::io_context& io;
  GrpcServerDeps deps;
  DtmService service;
  std::mutex mu;  // guards server (rebuilt by the watchdog's restarts)
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string address;
  std::unique_ptr<AcceptWatchdog> watchdog;
  std::thread restarter;
  std::atomic<bool> restarting{false};
  std::atomic<bool> stopped{false};

  // Builds and starts the server on address:port (port 0 = any; the bound port is kept).
  Status Build(uint16_t want_port) {
    auto creds = Credentials(*deps.config);
    if (!creds.ok()) return creds.status();
    grpc::ServerBuilder builder;
    const std::string where = address + ":" + std::to_string(want_port);
    int bound = 0;
    builder.AddListeningPort(where, *creds, &bound);
    builder.RegisterService(&service);
    // gRPC sets SO_REUSEPORT by default: a second dtmd on the same port would then share the
    // calls silently instead of failing to start.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    builder.SetMaxReceiveMessageSize(static_cast<int>(deps.config->max_body_bytes));
    auto built = builder.BuildAndStart();
    if (!built || bound == 0) {
      return Status::Unavailable("cannot serve gRPC on " + where +
                                 " (port in use, or an address this host does not have)");
    }
    std::lock_guard lock(mu);
    server = std::move(built);
    port = bound;
    return Status::Ok();
  }

  void Shutdown() {
    std::unique_ptr<grpc::Server> old;
    {
      std::lock_guard lock(mu);
      old = std::move(server);
    }
    if (!old) return;
    // Calls in flight finish on the io threads; after the deadline they are cancelled.
    old->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    old->Wait();
  }

  // From the watchdog (on an io thread): the rebuild blocks, so it runs on its own thread.
  void Restart() {
    if (stopped || restarting.exchange(true)) return;
    if (restarter.joinable()) restarter.join();
    restarter = std::thread([this] {
      Shutdown();
      if (!stopped) {
        Status st = Build(static_cast<uint16_t>(port));
        if (st.ok()) {
          log::Log(log::Component::kGrpc, spdlog::level::warn, "gRPC server restarted on port {}",
                   port);
        } else {
          log::Log(log::Component::kGrpc, spdlog::level::err,
                   "gRPC server restart failed: {} (tried again later)", st.message());
        }
      }
      restarting = false;
    });
  }
};

GrpcServer::GrpcServer(asio::io_context& io, GrpcServerDeps deps)
    : impl_(std::make_unique<Impl>(io, deps)) {}

GrpcServer::~GrpcServer() { Stop(); }

Status GrpcServer::Start(const std::string& address, uint16_t port) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  impl_->address = address;
  if (Status st = impl_->Build(port); !st.ok()) return st;
  impl_->watchdog = std::make_unique<AcceptWatchdog>(impl_->io, ProbeHostFor(address),
                                                     static_cast<uint16_t>(impl_->port),
                                                     [impl = impl_.get()] { impl->Restart(); });
  impl_->watchdog->Start();
  return Status::Ok();
}

uint16_t GrpcServer::port() const { return static_cast<uint16_t>(impl_->port); }

void GrpcServer::Stop() {
  impl_->stopped = true;
  if (impl_->watchdog) impl_->watchdog->Stop();
  if (impl_->restarter.joinable()) impl_->restarter.join();
  impl_->Shutdown();
}

}  // namespace lynx::server
