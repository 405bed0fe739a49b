// DTMClient: the lynx plugin "dtm.server" (config prefix "lynx.dtm", weight 90) and the entry
// point of the DTM client: gid generation, preconfigured transactions, health.
//   auto& dtm = app.GetPlugin<lynx::dtm::DTMClient>("dtm.server");
//   lynx::dtm::Saga saga = dtm.NewSaga(dtm.GenerateGid());
// Without the host: `lynx::dtm::DTMClient dtm(config); lynx::Status st = dtm.StartupTasks();`.
// The lifecycle methods are called by the host from one thread; once started, every other method
// may be called from any thread (they only read the configuration and use the shared, thread-safe
// HTTP and gRPC transports).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <lynx/context.h>
#include <lynx/dtm/config.h>
#include <lynx/dtm/grpc.h>
#include <lynx/dtm/metrics.h>
#include <lynx/dtm/msg.h>
#include <lynx/dtm/saga.h>
#include <lynx/dtm/tcc.h>
#include <lynx/dtm/workflow.h>
#include <lynx/dtm/xa.h>
#include <lynx/plugin.h>
#include <lynx/status.h>

namespace lynx::dtm {

inline constexpr char kPluginName[] = "dtm.server";
inline constexpr char kConfigPrefix[] = "lynx.dtm";
inline constexpr int kPluginWeight = 90;

class DTMClient : public lynx::Plugin {
 public:
  // For the host: the configuration is read by InitializeResources.
  DTMClient();
  // Without the host: `config` gets its defaults and is validated now; StartupTasks() returns
  // the validation error, if any.
  explicit DTMClient(DtmConfig config);
  ~DTMClient() override;
  DTMClient(const DTMClient&) = delete;
  DTMClient& operator=(const DTMClient&) = delete;

  std::string Name() const override { return kPluginName; }
  std::string ConfigPrefix() const override { return kConfigPrefix; }
  int Weight() const override { return kPluginWeight; }

  // Reads and validates lynx.dtm (errors name the key).
  Status InitializeResources(lynx::Runtime& runtime) override;
  // Enabled: up to max_connection_retries attempts to reach {server_url}/newGid, sleeping
  // 2 s x attempt between them (Unavailable when none succeeded); then, when grpc_server is set,
  // as many attempts of a gRPC NewGid at grpc_server (the error names grpc_server); registers the
  // shared resource "dtm.server" (a DTMClient*). Disabled: does nothing.
  Status StartupTasks() override;
  // GET {server_url}/newGid within 5 s: Ok on 200 with a non-empty body; and when grpc_server is
  // set, a gRPC NewGid within 5 s. Always Ok when disabled.
  Status CheckHealth() override;
  // Nothing to release: HTTP connections and gRPC channels are shared by the process (other
  // clients may use them) and closed at exit.
  Status CleanupTasks() override;

  // A new gid from the server; "" when it cannot be had (the reason is logged).
  std::string GenerateGid() const;
  // The same with the reason.
  StatusOr<std::string> NewGid() const;

  // Transactions preconfigured with server_url and timeout_to_fail = transaction_timeout,
  // request_timeout = timeout, retry_interval = retry_interval. `ctx` bounds their calls, and the
  // pass_through_headers it carries become branch headers. When the plugin is disabled their
  // server URL is empty and every call fails with InvalidArgument.
  Saga NewSaga(const std::string& gid, const Context& ctx = Context()) const;
  Msg NewMsg(const std::string& gid, const Context& ctx = Context()) const;
  Tcc NewTcc(const std::string& gid, const Context& ctx = Context()) const;
  Xa NewXa(const std::string& gid, const Context& ctx = Context()) const;
  // The same over gRPC: DTM at grpc_server with GrpcTls(); options, context and branch headers
  // as above. Without grpc_server (or when disabled) every call fails with InvalidArgument.
  Saga NewSagaGrpc(const std::string& gid, const Context& ctx = Context()) const;
  Msg NewMsgGrpc(const std::string& gid, const Context& ctx = Context()) const;
  Tcc NewTccGrpc(const std::string& gid, const Context& ctx = Context()) const;
  Xa NewXaGrpc(const std::string& gid, const Context& ctx = Context()) const;

  // Workflow engines talking to server_url over HTTP (dtmd resumes their workflows at
  // callback_url, served by WorkflowEngine::ServeHttp) or to grpc_server over gRPC (callback_host
  // "host:port" of a GrpcBranchServer with ServeGrpc). Workflows registered without options get
  // request_timeout = timeout and retry_interval = retry_interval; no timeout_to_fail (DTM
  // never times a workflow out; set WorkflowOptions::trans.timeout_to_fail to have dtmd roll an
  // unfinished one back). Execute's context passes the pass_through_headers on to the steps.
  WorkflowEngine NewWorkflowEngine(const std::string& callback_url) const;
  WorkflowEngine NewWorkflowEngineGrpc(const std::string& callback_host) const;

  // The headers of ctx named in pass_through_headers (names as configured, matched
  // case-insensitively), merged under `custom` (custom values win).
  std::map<std::string, std::string> BranchHeaders(
      const Context& ctx, const std::map<std::string, std::string>& custom = {}) const;

  // The configured server URL ("" when disabled).
  std::string GetServerURL() const;
  // The configured gRPC address ("" when disabled or not set).
  std::string GetGRPCServer() const;
  // grpc_tls_enabled, grpc_cert_file, grpc_key_file and grpc_ca_file.
  GrpcTlsOptions GrpcTls() const;
  const DtmConfig& GetConfig() const { return config_; }
  bool IsEnabled() const { return config_.enabled; }
  // The client's metrics: health checks, gid requests and TransactionHelper's transactions.
  const ClientMetrics& Metrics() const { return metrics_; }

 private:
  template <class T>
  T Configure(T trans, const Context& ctx) const;
  void ConfigureWorkflows(WorkflowEngine& engine) const;

  DtmConfig config_;
  Status config_status_;
  lynx::Runtime* runtime_ = nullptr;
  ClientMetrics metrics_;
};

// Registers the plugin "dtm.server" under "lynx.dtm" with `registry` (a second registration is
// logged and ignored).
void RegisterPlugin(lynx::PluginRegistry& registry);

}  // namespace lynx::dtm
