#include <lynx/dtm/client.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "client/transports/call_util.h"
#include "client/transports/grpc_transport.h"
#include "client/transports/transport.h"

namespace lynx::dtm {

namespace {

constexpr int64_t kHealthCheckTimeoutMs = 5000;

// GET {server_url}/newGid: a 200 with a non-empty body.
Status ProbeHttp(const DtmConfig& config) {
  auto transport = internal::Transport::Default();
  auto body = internal::CallDtmServerMs(*transport, Context(), config.server_url,
                                        kHealthCheckTimeoutMs, "GET", "newGid", "");
  if (!body.ok()) return Status::Unavailable("DTM health check: " + body.status().message());
  if (body->empty()) return Status::Unavailable("DTM health check: newGid answered an empty body");
  return Status::Ok();
}

// gRPC NewGid at grpc_server.
Status ProbeGrpc(const DtmConfig& config, const GrpcTlsOptions& tls) {
  auto gid = internal::GrpcNewGid(config.grpc_server, tls, kHealthCheckTimeoutMs);
  if (!gid.ok()) {
    // Keep the code of a bad TLS file (InvalidArgument): retrying cannot fix it.
    return Status(gid.status().code() == StatusCode::kInvalidArgument ? StatusCode::kInvalidArgument
                                                                      : StatusCode::kUnavailable,
                  "DTM gRPC health check: " + gid.status().message());
  }
  return Status::Ok();
}

// Up to `attempts` calls of `probe`, sleeping 2 s x attempt between them (§2); the last status.
Status RetryWithBackoff(int64_t attempts, const std::string& what,
                        const std::function<Status()>& probe) {
  Status last;
  for (int64_t attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) {
      auto backoff = std::chrono::seconds(2 * attempt);
      spdlog::info("retrying {} in {} s (attempt {}/{})", what, backoff.count(), attempt + 1,
                   attempts);
      std::this_thread::sleep_for(backoff);
    }
    last = probe();
    if (last.ok() || last.code() == StatusCode::kInvalidArgument) break;
    spdlog::warn("{}: connection attempt {}/{} failed: {}", what, attempt + 1, attempts,
                 last.message());
  }
  return last;
}

}  // namespace

DTMClient::DTMClient() = default;

DTMClient::DTMClient(DtmConfig config) : config_(std::move(config)) {
  ApplyDtmConfigDefaults(&config_);
  config_status_ = ValidateDtmConfig(config_, kConfigPrefix);
  if (config_status_.ok()) {
    config_status_ = ApplyDtmCredentials(config_, kConfigPrefix);
  }
}

DTMClient::~DTMClient() = default;

Status DTMClient::InitializeResources(lynx::Runtime& runtime) {
  runtime_ = &runtime;
  DtmConfig config;
  config_status_ = LoadDtmConfig(runtime.PluginConfig(), &config);
  if (config_status_.ok()) config_ = std::move(config);
  if (config_status_.ok()) {
    config_status_ = ApplyDtmCredentials(config_, runtime.PluginConfig().path());
  }
  return config_status_;
}

Status DTMClient::StartupTasks() {
  if (!config_status_.ok()) return config_status_;
  if (!config_.enabled) {
    spdlog::info("DTM client is disabled");
    return Status::Ok();
  }
  const int64_t attempts = std::max<int64_t>(1, config_.max_connection_retries);
  Status last = RetryWithBackoff(attempts, "the DTM server " + config_.server_url, [this] {
    Status st = ProbeHttp(config_);
    metrics_.RecordHealthCheck(st.ok());
    return st;
  });
  if (!last.ok()) {
    return Status::Unavailable("cannot reach the DTM server at " + config_.server_url + " after " +
                               std::to_string(attempts) + " attempt(s): " + last.message());
  }
  if (!config_.grpc_server.empty()) {
    const GrpcTlsOptions tls = GrpcTls();
    last = RetryWithBackoff(attempts, "the DTM gRPC server " + config_.grpc_server, [&] {
      Status st = ProbeGrpc(config_, tls);
      metrics_.RecordHealthCheck(st.ok());
      return st;
    });
    if (!last.ok()) {
      const std::string where =
          "the DTM gRPC server at " + config_.grpc_server + " (" + kConfigPrefix + ".grpc_server)";
      if (last.code() == StatusCode::kInvalidArgument) {
        return Status::InvalidArgument("cannot connect to " + where + ": " + last.message());
      }
      return Status::Unavailable("cannot reach " + where + " after " + std::to_string(attempts) +
                                 " attempt(s): " + last.message());
    }
  }
  if (runtime_ != nullptr) {
    if (Status st = runtime_->SetSharedResource(kPluginName, this); !st.ok()) {
      spdlog::warn("DTM: shared resource {} not registered: {}", kPluginName, st.message());
    }
    (void)runtime_->SetPrivateResource("config", config_);
    (void)runtime_->SetPrivateResource("server_url", config_.server_url);
  }
  spdlog::info("DTM client connected to {}{}", config_.server_url,
               config_.grpc_server.empty() ? "" : " and gRPC " + config_.grpc_server);
  return Status::Ok();
}

Status DTMClient::CheckHealth() {
  if (!config_.enabled) return Status::Ok();
  Status st = ProbeHttp(config_);
  if (st.ok() && !config_.grpc_server.empty()) st = ProbeGrpc(config_, GrpcTls());
  metrics_.RecordHealthCheck(st.ok());
  return st;
}

Status DTMClient::CleanupTasks() { return Status::Ok(); }

StatusOr<std::string> DTMClient::NewGid() const {
  const std::string url = GetServerURL();
  if (url.empty()) {
    metrics_.RecordGidRequest(false);
    return Status::InvalidArgument(
        "DTM server URL is not configured (is the dtm.server plugin enabled?)");
  }
  auto transport = internal::Transport::Default();
  auto body =
      internal::CallDtmServer(*transport, Context(), url, config_.timeout, "GET", "newGid", "");
  if (!body.ok()) {
    metrics_.RecordGidRequest(false);
    return body.status();
  }
  auto gid = internal::ParseNewGidReply(*body);
  metrics_.RecordGidRequest(gid.ok());
  return gid;
}

std::string DTMClient::GenerateGid() const {
  auto gid = NewGid();
  if (!gid.ok()) {
    spdlog::error("GenerateGid failed (DTM server may be unreachable): {}", gid.status().message());
    return "";
  }
  return *gid;
}

std::map<std::string, std::string> DTMClient::BranchHeaders(
    const Context& ctx, const std::map<std::string, std::string>& custom) const {
  return internal::MergeBranchHeaders(config_.pass_through_headers, ctx.Headers(), custom);
}

template <class T>
T DTMClient::Configure(T trans, const Context& ctx) const {
  TransOptions& o = trans.options();
  o.timeout_to_fail = config_.transaction_timeout;
  o.request_timeout = config_.timeout;
  o.retry_interval = config_.retry_interval;
  o.branch_headers = BranchHeaders(ctx);
  trans.SetContext(ctx);
  return trans;
}

Saga DTMClient::NewSaga(const std::string& gid, const Context& ctx) const {
  return Configure(Saga(GetServerURL(), gid), ctx);
}

Msg DTMClient::NewMsg(const std::string& gid, const Context& ctx) const {
  return Configure(Msg(GetServerURL(), gid), ctx);
}

Tcc DTMClient::NewTcc(const std::string& gid, const Context& ctx) const {
  return Configure(Tcc(GetServerURL(), gid), ctx);
}

Xa DTMClient::NewXa(const std::string& gid, const Context& ctx) const {
  return Configure(Xa(GetServerURL(), gid), ctx);
}

Saga DTMClient::NewSagaGrpc(const std::string& gid, const Context& ctx) const {
  return Configure(dtm::NewSagaGrpc(GetGRPCServer(), gid, GrpcTls()), ctx);
}

Msg DTMClient::NewMsgGrpc(const std::string& gid, const Context& ctx) const {
  return Configure(dtm::NewMsgGrpc(GetGRPCServer(), gid, GrpcTls()), ctx);
}

Tcc DTMClient::NewTccGrpc(const std::string& gid, const Context& ctx) const {
  return Configure(dtm::NewTccGrpc(GetGRPCServer(), gid, GrpcTls()), ctx);
}

Xa DTMClient::NewXaGrpc(const std::string& gid, const Context& ctx) const {
  return Configure(dtm::NewXaGrpc(GetGRPCServer(), gid, GrpcTls()), ctx);
}

WorkflowEngine DTMClient::NewWorkflowEngine(const std::string& callback_url) const {
  WorkflowEngine engine = WorkflowEngine::Http(GetServerURL(), callback_url);
  ConfigureWorkflows(engine);
  return engine;
}

WorkflowEngine DTMClient::NewWorkflowEngineGrpc(const std::string& callback_host) const {
  WorkflowEngine engine = WorkflowEngine::Grpc(GetGRPCServer(), callback_host, GrpcTls());
  ConfigureWorkflows(engine);
  return engine;
}

void DTMClient::ConfigureWorkflows(WorkflowEngine& engine) const {
  WorkflowOptions defaults;
  defaults.trans.request_timeout = config_.timeout;
  defaults.trans.retry_interval = config_.retry_interval;
  engine.SetDefaultOptions(std::move(defaults));
  engine.SetPassThroughHeaders(config_.pass_through_headers);
}

std::string DTMClient::GetServerURL() const {
  return config_.enabled ? config_.server_url : std::string();
}

std::string DTMClient::GetGRPCServer() const {
  return config_.enabled ? config_.grpc_server : std::string();
}

GrpcTlsOptions DTMClient::GrpcTls() const {
  return {.enabled = config_.grpc_tls_enabled,
          .cert_file = config_.grpc_cert_file,
          .key_file = config_.grpc_key_file,
          .ca_file = config_.grpc_ca_file};
}

void RegisterPlugin(lynx::PluginRegistry& registry) {
  Status st =
      registry.Register(kPluginName, kConfigPrefix, [] { return std::make_unique<DTMClient>(); });
  if (!st.ok()) spdlog::error("RegisterPlugin({}): {}", kPluginName, st.message());
}

}  // namespace lynx::dtm
