#include <lynx/dtm/client.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "client/call_util.h"
#include "client/transport.h"

namespace lynx::dtm {

namespace {
constexpr int64_t kHealthCheckTimeoutMs = 5000;
}  // namespace

DTMClient::DTMClient() = default;

DTMClient::DTMClient(DtmConfig config) : config_(std::move(config)) {
  ApplyDtmConfigDefaults(&config_);
  config_status_ = ValidateDtmConfig(config_, kConfigPrefix);
}

DTMClient::~DTMClient() = default;

Status DTMClient::InitializeResources(lynx::Runtime& runtime) {
  runtime_ = &runtime;
  DtmConfig config;
  config_status_ = LoadDtmConfig(runtime.PluginConfig(), &config);
  if (config_status_.ok()) config_ = std::move(config);
  return config_status_;
}

Status DTMClient::StartupTasks() {
  if (!config_status_.ok()) return config_status_;
  if (!config_.enabled) {
    spdlog::info("DTM client is disabled");
    return Status::Ok();
  }
  const int64_t attempts = std::max<int64_t>(1, config_.max_connection_retries);
  Status last;
  for (int64_t attempt = 0; attempt < attempts; ++attempt) {
    if (attempt > 0) {
      auto backoff = std::chrono::seconds(2 * attempt);
      spdlog::info("retrying the DTM server {} in {} s (attempt {}/{})", config_.server_url,
                   backoff.count(), attempt + 1, attempts);
      std::this_thread::sleep_for(backoff);
    }
    last = CheckHealth();
    if (last.ok()) break;
    spdlog::warn("DTM connection attempt {}/{} failed: {}", attempt + 1, attempts, last.message());
  }
  if (!last.ok()) {
    return Status::Unavailable("cannot reach the DTM server at " + config_.server_url + " after " +
                               std::to_string(attempts) + " attempt(s): " + last.message());
  }
  if (runtime_ != nullptr) {
    if (Status st = runtime_->SetSharedResource(kPluginName, this); !st.ok()) {
      spdlog::warn("DTM: shared resource {} not registered: {}", kPluginName, st.message());
    }
    (void)runtime_->SetPrivateResource("config", config_);
    (void)runtime_->SetPrivateResource("server_url", config_.server_url);
  }
  spdlog::info("DTM client connected to {}", config_.server_url);
  return Status::Ok();
}

Status DTMClient::CheckHealth() {
  if (!config_.enabled) return Status::Ok();
  auto transport = internal::Transport::Default();
  auto body = internal::CallDtmServerMs(*transport, Context(), config_.server_url,
                                        kHealthCheckTimeoutMs, "GET", "newGid", "");
  metrics_.RecordHealthCheck(body.ok() && !body->empty());
  if (!body.ok()) return Status::Unavailable("DTM health check: " + body.status().message());
  if (body->empty()) return Status::Unavailable("DTM health check: newGid answered an empty body");
  return Status::Ok();
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

std::string DTMClient::GetServerURL() const {
  return config_.enabled ? config_.server_url : std::string();
}

std::string DTMClient::GetGRPCServer() const {
  return config_.enabled ? config_.grpc_server : std::string();
}

void RegisterPlugin(lynx::PluginRegistry& registry) {
  Status st =
      registry.Register(kPluginName, kConfigPrefix, [] { return std::make_unique<DTMClient>(); });
  if (!st.ok()) spdlog::error("RegisterPlugin({}): {}", kPluginName, st.message());
}

}  // namespace lynx::dtm
