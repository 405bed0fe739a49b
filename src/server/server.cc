#include "server/server.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <random>
#include <thread>

#include "common/http_client.h"
#include "common/log.h"
#include "common/tls.h"
#include "server/api.h"
#include "server/attempt_log.h"
#include "server/branch_batch_writer.h"
#include "server/branch_caller.h"
#include "server/engine.h"
#include "server/grpc/grpc_branch_caller.h"
#include "server/grpc/grpc_server.h"
#include "server/http/http_server.h"
#include "server/metrics.h"
#include "server/retention.h"
#include "server/security/audit.h"
#include "server/security/auth.h"
#include "server/security/redact.h"
#include "server/security/url_policy.h"
#include "server/store_runner.h"
#include "server/topics.h"
#include "server/tracing/span_exporter.h"
#include "server/version.h"
#include "store/memory/memory_store.h"
#include "store/mysql/mysql_store.h"
#include "store/postgres/postgres_store.h"
#include "store/redis/redis_store.h"
#include "store/sqlite/sqlite_store.h"

namespace lynx::server {

namespace asio = boost::asio;

namespace {

// The one place where store backends are chosen.
StatusOr<std::unique_ptr<store::Store>> CreateStore(const StoreConfig& c) {
  if (c.driver == "memory") return std::unique_ptr<store::Store>(new store::MemoryStore());
  if (c.driver == "boltdb" || c.driver == "embedded" || c.driver == "sqlite") {
    std::error_code ec;
    std::filesystem::create_directories(c.data_dir, ec);
    if (ec) {
      return Status::InvalidArgument("config key Store.DataDir: cannot create '" + c.data_dir +
                                     "': " + ec.message());
    }
    store::SqliteOptions opts;
    opts.path = (std::filesystem::path(c.data_dir) / "dtmd.sqlite").string();
    opts.marker_path = (std::filesystem::path(c.data_dir) / "dtmd.store").string();
    opts.fsync = c.fsync;
    auto s = store::SqliteStore::Open(opts);
    if (!s.ok()) return s.status();
    return std::unique_ptr<store::Store>(std::move(*s));
  }
  if (c.driver == "postgres") {
    // DTM's keys: database Store.Db, schema Store.Schema (created when absent).
    store::PostgresOptions opts;
    opts.host = c.host;
    opts.port = c.port;
    opts.user = c.user;
    opts.password = c.password;
    opts.db = c.db;
    opts.schema = c.schema;
    opts.max_conns = c.max_open_conns;
    opts.conn_max_life_s = c.conn_max_life_time * 60;
    auto s = store::PostgresStore::Open(opts);
    if (!s.ok()) return s.status();
    return std::unique_ptr<store::Store>(std::move(*s));
  }
  if (c.driver == "mysql") {
    // DTM's keys: database Store.Db (created with the tables when absent).
    store::MysqlOptions opts;
    opts.host = c.host;
    opts.port = c.port;
    opts.user = c.user;
    opts.password = c.password;
    opts.db = c.db;
    opts.max_conns = c.max_open_conns;  // capped at MysqlOptions::kMaxConnections
    opts.conn_max_life_s = c.conn_max_life_time * 60;
    auto s = store::MysqlStore::Open(opts);
    if (!s.ok()) return s.status();
    return std::unique_ptr<store::Store>(std::move(*s));
  }
  if (c.driver == "redis") {
    // DTM's keys: Host/Port/User/Password, RedisPrefix, DataExpire, FinishedDataExpire.
    store::RedisOptions opts;
    opts.host = c.host;
    opts.port = c.port;
    opts.user = c.user;
    opts.password = c.password;
    opts.prefix = c.redis_prefix;
    opts.layout =
        c.redis_layout == "compact" ? store::RedisLayout::kCompact : store::RedisLayout::kDtm;
    opts.data_expire_s = c.data_expire;
    opts.finished_data_expire_s = c.finished_data_expire;
    opts.max_conns = c.max_open_conns;  // capped at RedisOptions::kMaxConnections
    auto s = store::RedisStore::Open(opts);
    if (!s.ok()) return s.status();
    return std::unique_ptr<store::Store>(std::move(*s));
  }
  return Status::InvalidArgument("config key Store.Driver: unsupported driver '" + c.driver + "'");
}

// DTM pings its store every 3 s until it answers, so a server started before its database (boot
// order, containers) waits for it. Only an unreachable store is retried; a configuration error
// fails at once. Store.StartWait bounds the wait (0 = forever, as DTM).
StatusOr<std::unique_ptr<store::Store>> OpenStoreWaiting(const StoreConfig& c) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(c.start_wait);
  for (int attempt = 1;; ++attempt) {
    auto store = CreateStore(c);
    Status st = store.ok() ? (*store)->Ping() : store.status();
    if (st.ok()) return store;
    if (st.code() != StatusCode::kUnavailable) return st;
    auto pause = std::chrono::milliseconds(3000);
    if (c.start_wait > 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= std::chrono::milliseconds(0)) {
        return Status::Unavailable(st.message() + " (gave up after Store.StartWait " +
                                   std::to_string(c.start_wait) + " s)");
      }
      pause = std::min(pause, left);
    }
    log::Log(log::Component::kServer, spdlog::level::warn,
             "store {} not reachable (attempt {}): {}; retrying", c.driver, attempt, st.message());
    std::this_thread::sleep_for(pause);
  }
}

}  // namespace

Status PopulateStore(const ServerConfig& config) {
  auto store = OpenStoreWaiting(config.store);
  if (!store.ok()) return store.status();
  return (*store)->PopulateSchema();
}

struct Server::Impl {
  explicit Impl(ServerConfig c) : config(std::move(c)) {}

  ServerConfig config;
  asio::io_context io;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> threads;
  SystemClock clock;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<StoreRunner> runner;
  std::unique_ptr<http::ClientPool> client;
  std::unique_ptr<GrpcBranchCaller> grpc_caller;
  std::unique_ptr<NetBranchCaller> caller;
  Topics topics;
  Metrics metrics;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Retention> retention;
  std::unique_ptr<BranchBatchWriter> batch_writer;
  std::unique_ptr<AttemptLog> attempt_log;
  std::unique_ptr<SpanExporter> spans;
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> http;
  std::unique_ptr<GrpcServer> grpc;
  std::optional<UrlPolicy> url_policy;
  std::unique_ptr<Authenticator> auth;
  Redactor redactor;
  std::unique_ptr<http::ServerTlsHolder> http_tls;
  std::optional<asio::signal_set> hangup;
  std::atomic<bool> stopping{false};
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopped = false;

  // Runs a background loop again after an unexpected exception (logged; pause 1 s), so that one
  // bad row or a bug on one path never stops recovery, retention or topic refresh for good.
  template <class F>
  asio::awaitable<void> Guarded(const char* name, F loop) {
    asio::steady_timer timer(io);
    while (!stopping) {
      std::string what;
      try {
        co_await loop();
        co_return;
      } catch (const std::exception& e) {
        what = e.what();
      }
      log::Log(log::Component::kServer, spdlog::level::err,
               "{} loop: unexpected exception: {}; restarting it", name, what);
      timer.expires_after(std::chrono::seconds(1));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  void Spawn(const char* name, std::function<asio::awaitable<void>()> loop) {
    asio::co_spawn(io, Guarded(name, std::move(loop)), [name](std::exception_ptr e) {
      if (e)
        log::Log(log::Component::kServer, spdlog::level::critical, "{} loop ended by an exception",
                 name);
    });
  }

  // An io thread: an exception escaping a completion handler is logged and the thread goes on
  // serving (Asio's documented way to resume run()), instead of terminating dtmd.
  void RunIoThread() {
    for (;;) {
      try {
        io.run();
        return;
      } catch (const std::exception& e) {
        log::Log(log::Component::kServer, spdlog::level::critical,
                 "io thread: unexpected exception escaped a handler: {}", e.what());
      }
    }
  }

  asio::awaitable<void> CronLoop() {
    std::mt19937 rng(std::random_device{}());
    asio::steady_timer timer(io);
    while (!stopping) {
      std::string gid = co_await engine->CronOnce(0);
      if (!gid.empty()) continue;
      double secs = config.trans_cron_interval - std::uniform_real_distribution<double>(0, 1)(rng);
      timer.expires_after(std::chrono::milliseconds(static_cast<int64_t>(secs * 1000)));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  // SIGHUP, or a changed tokens file: tokens and the HTTPS certificate are read again; what fails
  // to load leaves the previous one in use.
  void ReloadSecrets(const char* trigger) {
    if (auth->enabled()) {
      Status st = auth->Load();
      Audit("tokenReload", AuthDecision{}, "local",
            std::string("trigger=") + trigger + " tokens=" + std::to_string(auth->token_count()),
            st);
      if (!st.ok())
        log::Log(log::Component::kServer, spdlog::level::err,
                 "tokens not reloaded (the previous ones stay): {}", st.message());
    }
    if (http_tls) {
      Status st = http_tls->Reload();
      if (st.ok()) {
        log::Log(log::Component::kServer, spdlog::level::info, "HTTPS certificate reloaded ({})",
                 trigger);
      } else {
        log::Log(log::Component::kServer, spdlog::level::err,
                 "HTTPS certificate not reloaded (the previous one stays): {}", st.message());
      }
    }
  }

  void AwaitHangup() {
    hangup->async_wait([this](const boost::system::error_code& ec, int) {
      if (ec || stopping) return;
      ReloadSecrets("SIGHUP");
      AwaitHangup();
    });
  }

  asio::awaitable<void> TokenFileWatch() {
    asio::steady_timer timer(io);
    while (!stopping) {
      timer.expires_after(std::chrono::seconds(config.auth.reload_check_interval));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (!stopping && auth->SourceChanged()) ReloadSecrets("tokens file changed");
    }
  }

  asio::awaitable<void> TopicLoop() {
    asio::steady_timer timer(io);
    while (!stopping) {
      timer.expires_after(std::chrono::seconds(config.config_update_interval));
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (stopping) break;
      Status st = co_await api->ReloadTopics();
      if (!st.ok())
        log::Log(log::Component::kServer, spdlog::level::warn, "topic refresh failed: {}",
                 st.message());
    }
  }
};

Server::Server(ServerConfig config) : impl_(std::make_unique<Impl>(std::move(config))) {}

Server::~Server() { Stop(); }

Status Server::Start() {
  auto& d = *impl_;
  // Security first: a bad token file, policy or certificate stops start-up before the store.
  auto policy = UrlPolicy::Make(d.config.branch_url_policy);
  if (!policy.ok()) return policy.status();
  d.url_policy.emplace(std::move(*policy));
  d.auth = std::make_unique<Authenticator>(d.config.auth);
  if (d.config.auth.enabled) {
    if (Status st = d.auth->Load(); !st.ok()) return st;
  }
  d.redactor = Redactor(d.config.redact_headers);
  if (!d.config.http_cert_file.empty()) {
    d.http_tls = std::make_unique<http::ServerTlsHolder>(http::ServerTlsFiles{
        d.config.http_cert_file, d.config.http_key_file, d.config.http_ca_file});
    if (Status st = d.http_tls->Reload(); !st.ok()) return st;
  }
  if (!d.config.branch_ca_file.empty()) {
    if (auto ctx = http::MakeClientTlsContext(d.config.branch_ca_file); !ctx.ok()) {
      return Status::InvalidArgument("config key BranchCaFile: " + ctx.status().message());
    }
  }
  auto store = OpenStoreWaiting(d.config.store);
  if (!store.ok()) return store.status();
  d.store = std::move(*store);
  // The hot writes of a store that can complete them on the io threads (Redis) go there; `io`
  // outlives the store (declared before it) and its threads are joined before the store closes.
  d.store->AttachIo(d.io);
  d.runner = std::make_unique<StoreRunner>(*d.store, static_cast<size_t>(d.config.store_threads));
  http::ClientOptions client_options;
  client_options.max_conns_per_host = static_cast<size_t>(d.config.limits.max_conns_per_target);
  client_options.max_conns_total = static_cast<size_t>(d.config.limits.max_outbound_conns);
  client_options.max_response_body = static_cast<size_t>(d.config.limits.max_reply_bytes);
  client_options.ca_file = d.config.branch_ca_file;
  d.client = std::make_unique<http::ClientPool>(d.io.get_executor(), client_options);
  GrpcChannelOptions channel_options;
  channel_options.service_config = d.config.grpc_service_config;
  channel_options.max_channels = static_cast<size_t>(d.config.limits.max_grpc_channels);
  channel_options.idle_seconds = d.config.limits.grpc_channel_idle;
  channel_options.address_check = PolicyAddressCheck(*d.url_policy);
  d.grpc_caller = std::make_unique<GrpcBranchCaller>(channel_options);
  d.caller =
      std::make_unique<NetBranchCaller>(*d.client, *d.grpc_caller, &*d.url_policy,
                                        static_cast<size_t>(d.config.max_quoted_reply_bytes));
  if (Status st = d.topics.Reload(*d.store); !st.ok()) return st;

  EngineDeps deps;
  deps.config = &d.config;
  deps.clock = &d.clock;
  deps.store = d.runner.get();
  deps.caller = d.caller.get();
  deps.topics = &d.topics;
  deps.metrics = &d.metrics;
  deps.alert_client = d.client.get();
  deps.executor = d.io.get_executor();
  if (d.config.update_branch_sync == 0 && d.store->SupportsBatchedBranchUpdates()) {
    d.batch_writer = std::make_unique<BranchBatchWriter>(*d.runner, &d.metrics);
    deps.batch_writer = d.batch_writer.get();
  } else if (d.config.update_branch_sync == 0) {
    log::Log(log::Component::kServer, spdlog::level::info,
             "UpdateBranchSync 0: store {} writes branch statuses synchronously anyway",
             d.config.store.driver);
  }
  if (d.config.attempts_keep_per_branch > 0) {
    d.attempt_log =
        std::make_unique<AttemptLog>(*d.runner, &d.metrics, d.config.attempts_keep_per_branch,
                                     static_cast<size_t>(d.config.attempts_queue_capacity),
                                     static_cast<size_t>(d.config.max_quoted_reply_bytes));
    deps.attempt_log = d.attempt_log.get();
  }
  if (!d.config.tracing.otlp_endpoint.empty()) {
    SpanExporterOptions o;
    o.endpoint = d.config.tracing.otlp_endpoint;
    o.service_name = d.config.tracing.service_name;
    o.instance = InstanceOwner();
    o.version = kDtmdVersion;
    o.capacity = static_cast<size_t>(d.config.tracing.queue_capacity);
    o.batch_spans = static_cast<size_t>(d.config.tracing.batch_size);
    o.flush_ms = static_cast<int>(d.config.tracing.flush_interval_ms);
    o.timeout_ms = d.config.tracing.export_timeout_ms;
    d.spans = std::make_unique<SpanExporter>(*d.client, &d.metrics, std::move(o));
    deps.spans = d.spans.get();
    log::Log(log::Component::kServer, spdlog::level::info, "exporting spans to {}", d.spans->url());
  }
  d.engine = std::make_unique<Engine>(deps);
  d.api = std::make_unique<Api>(*d.engine, &*d.url_policy);
  d.retention = std::make_unique<Retention>(d.config.store, d.clock, *d.runner, &d.metrics);

  HttpServerDeps hdeps;
  hdeps.config = &d.config;
  hdeps.api = d.api.get();
  hdeps.engine = d.engine.get();
  hdeps.metrics = &d.metrics;
  hdeps.test_clock = d.config.enable_test_control ? &d.clock : nullptr;
  hdeps.retention = d.retention.get();
  hdeps.auth = d.auth.get();
  hdeps.redactor = &d.redactor;
  hdeps.spans = d.spans.get();
  if (d.http_tls) hdeps.tls = [holder = d.http_tls.get()] { return holder->Get(); };
  d.http = std::make_unique<HttpServer>(d.io, hdeps);
  if (Status st =
          d.http->Listen(d.config.listen_address, static_cast<uint16_t>(d.config.http_port));
      !st.ok()) {
    return st;
  }
  d.http->Start();
  GrpcServerDeps gdeps;
  gdeps.config = &d.config;
  gdeps.api = d.api.get();
  gdeps.metrics = &d.metrics;
  gdeps.auth = d.auth.get();
  gdeps.spans = d.spans.get();
  d.grpc = std::make_unique<GrpcServer>(d.io, gdeps);
  if (Status st = d.grpc->Start(d.config.listen_address, static_cast<uint16_t>(d.config.grpc_port));
      !st.ok()) {
    return st;
  }
  if (d.config.cron_enabled) {
    for (int64_t i = 0; i < d.config.cron_workers; ++i) {
      d.Spawn("cron", [&d] { return d.CronLoop(); });
    }
  }
  d.Spawn("topic refresh", [&d] { return d.TopicLoop(); });
  if (d.config.auth.enabled && !d.config.auth.tokens_file.empty()) {
    d.Spawn("tokens file watch", [&d] { return d.TokenFileWatch(); });
  }
  d.hangup.emplace(d.io, SIGHUP);
  d.AwaitHangup();
  if (d.batch_writer) {
    for (int64_t i = 0; i < std::max<int64_t>(1, d.config.update_branch_async_goroutine_num); ++i) {
      d.Spawn("batched branch writer", [&d] { return d.batch_writer->Loop(d.io); });
    }
  }
  if (d.attempt_log) d.Spawn("attempt history", [&d] { return d.attempt_log->Loop(d.io); });
  if (d.spans) d.Spawn("span export", [&d] { return d.spans->Loop(d.io); });
  if (d.retention->Enabled()) {
    d.Spawn("retention", [&d] { return d.retention->Loop(d.io); });
  }

  d.work.emplace(d.io.get_executor());
  size_t n = d.config.worker_threads > 0 ? static_cast<size_t>(d.config.worker_threads)
                                         : std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < n; ++i) d.threads.emplace_back([&d] { d.RunIoThread(); });
  log::Log(log::Component::kServer, spdlog::level::info,
           "dtmd listening on {}: HTTP{} {}, gRPC {}{} (store {}, {} threads{}{})",
           d.config.listen_address, d.http_tls ? "S" : "", d.http->port(), d.grpc->port(),
           d.config.grpc_cert_file.empty() ? "" : " TLS", d.config.store.driver, n,
           d.config.auth.enabled
               ? ", auth on (" + std::to_string(d.auth->token_count()) + " tokens)"
               : std::string(", auth off"),
           d.config.enable_test_control ? ", TEST CONTROL ENABLED" : "");
  if (!d.config.auth.enabled && !IsLoopbackAddress(d.config.listen_address)) {
    log::Log(log::Component::kServer, spdlog::level::warn,
             "authentication is off and dtmd listens on {}: anyone who reaches ports {} and {} can "
             "read every transaction and force-stop it. Turn on Auth.Enabled or listen on loopback "
             "(docs/security.md)",
             d.config.listen_address, d.http->port(), d.grpc->port());
  }
  return Status::Ok();
}

uint16_t Server::http_port() const { return impl_->http->port(); }

uint16_t Server::grpc_port() const { return impl_->grpc->port(); }

void Server::Wait() {
  asio::io_context signals_io;
  asio::signal_set signals(signals_io, SIGINT, SIGTERM);
  signals.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (!ec)
      log::Log(log::Component::kServer, spdlog::level::info, "signal {} received, stopping", sig);
    Stop();
  });
  std::thread t([&signals_io] { signals_io.run(); });
  {
    std::unique_lock lock(impl_->stop_mu);
    impl_->stop_cv.wait(lock, [this] { return impl_->stopped; });
  }
  signals_io.stop();
  t.join();
}

void Server::Stop() {
  auto& d = *impl_;
  {
    std::lock_guard lock(d.stop_mu);
    if (d.stopped) return;
    d.stopped = true;
  }
  d.stopping = true;
  if (d.hangup) {
    boost::system::error_code ignored;
    d.hangup->cancel(ignored);
  }
  if (d.retention) d.retention->Stop();
  if (d.batch_writer) {
    d.batch_writer->Stop();
    // A batch a loop holds is written before the io threads stop (the queue is drained below).
    if (!d.threads.empty() && !d.batch_writer->AwaitLoopsDone(std::chrono::seconds(10))) {
      log::Log(log::Component::kServer, spdlog::level::err,
               "batched branch writer did not finish its batch within 10 s");
    }
  }
  if (d.spans) {
    d.spans->Stop();
    if (!d.threads.empty() && !d.spans->AwaitLoopDone(std::chrono::seconds(6))) {
      log::Log(log::Component::kServer, spdlog::level::warn,
               "span export: the last batch was not sent within 6 s");
    }
  }
  if (d.attempt_log) {
    d.attempt_log->Stop();
    if (!d.threads.empty() && !d.attempt_log->AwaitLoopsDone(std::chrono::seconds(10))) {
      log::Log(log::Component::kServer, spdlog::level::err,
               "attempt history did not finish its batch within 10 s");
    }
  }
  if (d.http) d.http->Stop();
  if (d.grpc) d.grpc->Stop();  // while the io threads still run the calls in flight
  d.work.reset();
  d.io.stop();
  for (auto& t : d.threads) t.join();
  d.threads.clear();
  if (d.runner) d.runner->Stop();
  if (d.batch_writer) {
    // Queued branch statuses are written before exit (the io threads are gone: written here).
    d.batch_writer->Stop();
    if (Status st = d.batch_writer->Drain(); !st.ok()) {
      log::Log(log::Component::kServer, spdlog::level::err,
               "queued branch statuses not written at shutdown: {}", st.message());
    }
  }
  if (d.attempt_log) {
    // Calls made while stopping (the last passes) are recorded too.
    d.attempt_log->Stop();
    if (Status st = d.attempt_log->Drain(); !st.ok()) {
      log::Log(log::Component::kServer, spdlog::level::err,
               "queued attempts not written at shutdown: {}", st.message());
    }
  }
  d.stop_cv.notify_all();
}

}  // namespace lynx::server
