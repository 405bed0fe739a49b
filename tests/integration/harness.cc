#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/json.hpp>
#include "../support/test_databases.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#ifndef LYNX_DTMD_PATH
#error "LYNX_DTMD_PATH must be defined (path of the dtmd binary)"
#endif
#ifndef LYNX_BUSI_PATH
#error "LYNX_BUSI_PATH must be defined (path of the busi_server binary)"
#endif

namespace lynx::it {

namespace bj = boost::json;
namespace fs = std::filesystem;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Tail(const std::string& path, size_t bytes = 6000) {
  std::string s = ReadFile(path);
  return s.size() > bytes ? "..." + s.substr(s.size() - bytes) : s;
}

// Waits for the port file a child writes (atomically) once it listens.
// Reads the port (and, when `second` is given, a second port on the next line) that the child
// writes once it listens.
bool AwaitPortFile(ChildProcess& proc, const std::string& path, uint16_t* port, std::string* err,
                   uint16_t* second = nullptr) {
  bool ok = WaitUntil(
      [&] {
        std::ifstream in(path);
        int p = 0, q = 0;
        if (in >> p && p > 0 && p < 65536 &&
            (second == nullptr || (in >> q && q > 0 && q < 65536))) {
          *port = static_cast<uint16_t>(p);
          if (second != nullptr) *second = static_cast<uint16_t>(q);
          return true;
        }
        return !proc.Alive();
      },
      std::chrono::seconds(30));
  if (!ok || *port == 0) {
    *err = "no port in " + path + (proc.Alive() ? " (timeout)" : " (process exited)");
    return false;
  }
  return true;
}

}  // namespace

bool PortAccepts(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

namespace {

bool IsFinal(const std::string& status) { return status == "succeed" || status == "failed"; }

std::string JsonString(const bj::value& v, const char* key) {
  if (!v.is_object()) return "";
  const bj::value* f = v.get_object().if_contains(key);
  return f != nullptr && f->is_string() ? std::string(f->get_string()) : "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Processes and directories

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Start(const std::vector<std::string>& argv, const std::string& log_path,
                         std::string* err, const std::string& cwd) {
  Kill();
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *err = "cannot open " + log_path + ": " + std::strerror(errno);
    return false;
  }
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    *err = std::string("fork: ") + std::strerror(errno);
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    return false;
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    if (null_fd >= 0) ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::close_range(3, ~0U, 0);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  ::close(log_fd);
  if (null_fd >= 0) ::close(null_fd);
  pid_ = pid;
  return true;
}

bool ChildProcess::Alive() {
  if (pid_ <= 0) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  if (r == pid_ && WIFEXITED(st)) exit_code_ = WEXITSTATUS(st);
  pid_ = -1;  // exited (and reaped) or not ours any more
  return false;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::optional<int> ChildProcess::Terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return std::nullopt;
  ::kill(pid_, SIGTERM);
  int st = 0;
  std::optional<int> code;
  bool exited = WaitUntil(
      [&] {
        pid_t r = ::waitpid(pid_, &st, WNOHANG);
        if (r == pid_) {
          if (WIFEXITED(st)) code = WEXITSTATUS(st);
          return true;
        }
        return r < 0;
      },
      grace);
  if (exited) {
    pid_ = -1;
    return code;
  }
  Kill();
  return std::nullopt;
}

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) != nullptr) path_ = buf.data();
}

TempDir::~TempDir() {
  if (path_.empty() || std::getenv("LYNX_IT_KEEP") != nullptr) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

// ---------------------------------------------------------------------------------------------
// busi_server

std::string BusiCall::Query(const std::string& k) const {
  auto it = query.find(k);
  return it == query.end() ? "" : it->second;
}

std::string BusiCall::Header(const std::string& k) const {
  auto it = headers.find(k);
  return it == headers.end() ? "" : it->second;
}

bool Busi::Start(const std::string& dir, std::string* err) {
  dir_ = dir;
  const std::string port_file = dir + "/busi.port";
  std::error_code ec;
  fs::remove(port_file, ec);
  if (!proc_.Start({LYNX_BUSI_PATH, "--port-file", port_file}, dir + "/busi.log", err)) {
    return false;
  }
  return AwaitPortFile(proc_, port_file, &port_, err, &grpc_port_);
}

std::string Busi::Url(const std::string& route) const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/api/busi/" + route;
}

std::string Busi::GrpcUrl(const std::string& method) const {
  return "127.0.0.1:" + std::to_string(grpc_port_) + "/busi.Busi/" + method;
}

void Busi::Script(const std::string& route, const std::vector<std::string>& results) {
  bj::array a;
  for (const auto& r : results) a.emplace_back(r);
  auto res =
      Http(port_, "POST", WithQuery("/api/control/script", {{"route", route}}), bj::serialize(a));
  EXPECT_EQ(res.status, 200) << "busi script: " << res.error << res.body;
}

void Busi::SetDefault(const std::string& route, const std::string& result) {
  auto res = Http(port_, "POST", WithQuery("/api/control/default", {{"route", route}}),
                  bj::serialize(bj::value(bj::string(result))));
  EXPECT_EQ(res.status, 200) << "busi default: " << res.error << res.body;
}

void Busi::Release(const std::string& gate) {
  auto res = Http(port_, "POST", WithQuery("/api/control/release", {{"name", gate}}));
  EXPECT_EQ(res.status, 200) << "busi release: " << res.error << res.body;
}

void Busi::Reset() {
  auto res = Http(port_, "POST", "/api/control/reset");
  EXPECT_EQ(res.status, 200) << "busi reset: " << res.error << res.body;
}

std::vector<BusiCall> Busi::Calls(const std::string& route, const std::string& gid) const {
  Params params;
  if (!route.empty()) params.emplace_back("route", route);
  if (!gid.empty()) params.emplace_back("gid", gid);
  auto res = Http(port_, "GET", WithQuery("/api/control/calls", params));
  EXPECT_EQ(res.status, 200) << "busi calls: " << res.error << res.body;
  std::vector<BusiCall> out;
  bj::value v = res.Json();
  if (!v.is_array()) return out;
  for (const auto& e : v.get_array()) {
    const auto& o = e.get_object();
    BusiCall c;
    c.seq = o.at("seq").to_number<int64_t>();
    c.route = JsonString(e, "route");
    c.method = JsonString(e, "method");
    c.body = JsonString(e, "body");
    c.result = JsonString(e, "result");
    for (const auto& kv : o.at("query").get_object()) {
      c.query[std::string(kv.key())] = std::string(kv.value().get_string());
    }
    for (const auto& kv : o.at("headers").get_object()) {
      c.headers[std::string(kv.key())] = std::string(kv.value().get_string());
    }
    out.push_back(std::move(c));
  }
  return out;
}

std::string Busi::LogTail() const { return Tail(dir_ + "/busi.log"); }

// ---------------------------------------------------------------------------------------------
// dtmd

std::string StoreDriverOf(const DtmdOptions& options) {
  if (!options.store.empty()) return options.store;
  const char* env_store = std::getenv("LYNX_IT_STORE");
  return env_store != nullptr ? env_store : "";
}

namespace {

bool IsServerStore(const std::string& driver) {
  return driver == "postgres" || driver == "mysql" || driver == "redis" ||
         driver == "redis-compact";
}

// The Store: lines for a driver that runs on one of the test servers, in a schema / database /
// prefix of its own (or the shared one named by store_scope); false when the server is missing.
bool ServerStoreYaml(const DtmdOptions& options, std::string* yaml, std::string* err) {
  const std::string driver = StoreDriverOf(options);
  if (!IsServerStore(driver)) return true;
  const std::string scope =
      "it_" + (options.store_scope.empty() ? testing_dbs::UniqueSuffix() : options.store_scope);
  if (driver == "redis" || driver == "redis-compact") {
    auto port = testing_dbs::RedisPort();
    if (!port) {
      *err = "Redis is not running (LYNX_TEST_REDIS_PORT unset; run through scripts/test.sh)";
      return false;
    }
    *yaml = "  Driver: redis\n  Host: " + testing_dbs::Host() +
            "\n  Port: " + std::to_string(*port) + "\n  RedisPrefix: \"{" + scope + "}\"\n";
    if (driver == "redis-compact") *yaml += "  RedisLayout: compact\n";
    return true;
  }
  auto conf = testing_dbs::ServerConf(driver);
  if (!conf) {
    *err = driver + " is not running (run through scripts/test.sh)";
    return false;
  }
  *yaml = "  Driver: " + driver + "\n  Host: " + conf->host +
          "\n  Port: " + std::to_string(conf->port) + "\n  User: " + conf->user + "\n";
  if (driver == "postgres") {
    *yaml += "  Db: " + conf->db + "\n  Schema: " + scope + "\n";
  } else {
    *yaml += "  Db: " + scope + "\n";
  }
  return true;
}

}  // namespace

bool AuthEverywhere() {
  const char* v = std::getenv("LYNX_IT_AUTH");
  return !kReferenceServer && v != nullptr && std::string(v) == "1";
}

bool Dtmd::Start(const std::string& dir, const DtmdOptions& options, std::string* err) {
  dir_ = dir;
  options_ = options;
  if (kReferenceServer) return LaunchReference(err);
  std::ofstream cfg(dir + "/dtmd.yml");
  cfg << "ListenAddress: 127.0.0.1\n";
  std::string store_yaml;
  if (!ServerStoreYaml(options, &store_yaml, err)) return false;
  store_yaml += options.store_yaml;
  if (!store_yaml.empty()) cfg << "Store:\n" << store_yaml;
  if (options.cron) cfg << "TransCronInterval: 1\n";
  cfg << options.extra_yaml;
  if (AuthEverywhere() && options.auth_token.empty()) {
    // LYNX_IT_AUTH=1: the suite runs against a dtmd that requires tokens; the harness acts as
    // admin, the SDK clients as client (sdk_fixture.h).
    std::ofstream(dir + "/it-tokens")
        << "it-client client " << kItClientToken << "\nit-admin admin " << kItAdminToken << "\n";
    cfg << "Auth:\n  Enabled: true\n  TokensFile: " << dir << "/it-tokens\n";
    options_.auth_token = kItAdminToken;
  }
  cfg.close();
  if (!cfg) {
    *err = "cannot write " + dir + "/dtmd.yml";
    return false;
  }
  return Launch(err);
}

bool Dtmd::Launch(std::string* err) {
  if (kReferenceServer) return LaunchReference(err);
  const std::string port_file = dir_ + "/dtmd.port";
  std::error_code ec;
  fs::remove(port_file, ec);
  port_ = 0;
  // LYNX_IT_DTMD runs the suite against another dtmd binary (e.g. an older build, to show that a
  // regression test fails there).
  const char* other = std::getenv("LYNX_IT_DTMD");
  std::vector<std::string> argv = {other != nullptr && *other != '\0' ? other : LYNX_DTMD_PATH,
                                   "-c",
                                   dir_ + "/dtmd.yml",
                                   "--http-port",
                                   "0",
                                   "--grpc-port",
                                   "0",
                                   "--port-file",
                                   port_file,
                                   "--data-dir",
                                   dir_ + "/data",
                                   "--enable-test-control"};
  if (!options_.cron) argv.push_back("--disable-cron");
  if (!options_.nofile_limit.empty()) {
    argv.insert(argv.begin(), {"/usr/bin/prlimit", "--nofile=" + options_.nofile_limit, "--"});
  }
  // LYNX_IT_STORE=memory runs the suite against another driver (tests that need a specific one
  // set DtmdOptions::store).
  const std::string store = StoreDriverOf(options_);
  if (!store.empty() && !IsServerStore(store)) {
    argv.push_back("--store");
    argv.push_back(store);
  }
  if (!proc_.Start(argv, dir_ + "/dtmd.log", err)) return false;
  return AwaitPortFile(proc_, port_file, &port_, err, &grpc_port_);
}

// The reference server cannot listen on port 0 and report the port: free ports are picked here
// (bound and released), and a start that loses the race for one (the gRPC listen is fatal, the
// HTTP one only logged) is retried on other ports. Ready once GET newGid answers and the gRPC
// port accepts connections. A relaunch (Restart/Relaunch) keeps the ports and the working dir,
// hence the BoltDB file.
bool Dtmd::LaunchReference(std::string* err) {
  const char* bin = std::getenv("LYNX_REFERENCE_DTM");
  if (bin == nullptr || *bin == '\0') {
    *err =
        "LYNX_REFERENCE_DTM (the reference server's binary) is not set: run reference_sdk_test "
        "through ctest, or as LYNX_REFERENCE_DTM=$(scripts/reference-dtm.sh) reference_sdk_test";
    return false;
  }
  const std::string work = dir_ + "/reference-dtm";
  std::error_code ec;
  fs::create_directories(work, ec);
  std::string last_error;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0 || port_ == 0) {
      port_ = UnusedPort();
      do grpc_port_ = UnusedPort();
      while (grpc_port_ == port_);
    }
    {
      std::ofstream cfg(work + "/conf.yml", std::ios::trunc);
      // TransCronInterval 1: the cron loop polls every 0-1 s, so retries with a short
      // per-transaction retry_interval happen within seconds. UpdateBranchSync 1: DTM's sample
      // configuration (branch writes synchronous; BoltDB writes them synchronously anyway).
      cfg << "HttpPort: " << port_ << "\nGrpcPort: " << grpc_port_
          << "\nTransCronInterval: 1\nUpdateBranchSync: 1\nLogLevel: info\n"
          << options_.extra_yaml;
      if (!cfg) {
        *err = "cannot write " + work + "/conf.yml";
        return false;
      }
    }
    if (!proc_.Start({bin, "-c", work + "/conf.yml"}, dir_ + "/dtmd.log", err, work)) return false;
    bool ready = WaitUntil(
        [&] {
          if (!proc_.Alive()) return true;
          return Http(port_, "GET", "/api/dtmsvr/newGid", "", AuthHeaders(),
                      std::chrono::seconds(2))
                         .status == 200 &&
                 PortAccepts(grpc_port_);
        },
        std::chrono::seconds(20));
    if (ready && proc_.Alive()) return true;
    last_error =
        std::string("the reference DTM server (") + bin + ") " +
        (proc_.Alive() ? "did not answer on :" + std::to_string(port_) + " in 20 s" : "exited") +
        " (ports " + std::to_string(port_) + "/" + std::to_string(grpc_port_) + ")";
    proc_.Kill();
  }
  *err = last_error;
  return false;
}

bool Dtmd::Restart(std::string* err) {
  if (proc_.Alive()) proc_.Terminate();
  return Launch(err);
}

void Dtmd::Kill9() { proc_.Kill(); }

std::optional<int> Dtmd::Stop() { return proc_.Terminate(); }

std::string Dtmd::Url() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/api/dtmsvr";
}

std::string Dtmd::GrpcServer() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

std::string Dtmd::LogTail() const { return Tail(dir_ + "/dtmd.log"); }

Headers Dtmd::AuthHeaders() const {
  if (options_.auth_token.empty()) return {};
  return {{"Authorization", "Bearer " + options_.auth_token}};
}

HttpResponse Dtmd::Get(const std::string& api, const Params& params) const {
  return Http(port_, "GET", WithQuery("/api/dtmsvr/" + api, params), "", AuthHeaders());
}

HttpResponse Dtmd::Post(const std::string& api, const std::string& body, const Params& params,
                        const Headers& headers) const {
  Headers all = AuthHeaders();
  all.insert(all.end(), headers.begin(), headers.end());
  return Http(port_, "POST", WithQuery("/api/dtmsvr/" + api, params), body, all);
}

bj::value Dtmd::Query(const std::string& gid) const {
  auto res = Get("query", {{"gid", gid}});
  EXPECT_EQ(res.status, 200) << "query " << gid << ": " << res.error << res.body;
  return res.Json();
}

std::string Dtmd::Status(const std::string& gid) const {
  bj::value q = Query(gid);
  if (!q.is_object()) return "";
  const bj::value* t = q.get_object().if_contains("transaction");
  return t == nullptr ? "" : JsonString(*t, "status");
}

std::string Dtmd::RollbackReason(const std::string& gid) const {
  bj::value q = Query(gid);
  if (!q.is_object()) return "";
  const bj::value* t = q.get_object().if_contains("transaction");
  return t == nullptr ? "" : JsonString(*t, "rollback_reason");
}

std::vector<std::string> Dtmd::BranchStatuses(const std::string& gid) const {
  std::vector<std::string> out;
  bj::value q = Query(gid);
  if (!q.is_object()) return out;
  const bj::value* bs = q.get_object().if_contains("branches");
  if (bs == nullptr || !bs->is_array()) return out;
  for (const auto& b : bs->get_array()) out.push_back(JsonString(b, "status"));
  return out;
}

bool Dtmd::Exists(const std::string& gid) const {
  auto res = Get("all", {{"gid", gid}});
  EXPECT_EQ(res.status, 200) << "all?gid=" << gid << ": " << res.error << res.body;
  bj::value v = res.Json();
  if (!v.is_object()) return false;
  const bj::value* ts = v.get_object().if_contains("transactions");
  return ts != nullptr && ts->is_array() && !ts->get_array().empty();
}

int64_t Dtmd::Passes(const std::string& gid) const {
  if (kReferenceServer) return -1;
  auto res = Http(port_, "GET", WithQuery("/api/test/passes", {{"gid", gid}}), "", AuthHeaders());
  bj::value v = res.Json();
  if (res.status != 200 || !v.is_object() || !v.get_object().contains("passes")) return -1;
  return v.get_object().at("passes").to_number<int64_t>();
}

bool Dtmd::WaitPasses(const std::string& gid, int64_t n, std::chrono::milliseconds timeout) const {
  if (kReferenceServer) {
    EXPECT_EQ(n, 1) << "the reference server counts no passes: only a final status is awaited";
    bool final = WaitUntil([&] { return IsFinal(Status(gid)); }, timeout);
    EXPECT_TRUE(final) << gid << " not final after " << timeout.count()
                       << " ms: " << bj::serialize(Query(gid));
    return final;
  }
  return WaitUntil([&] { return Passes(gid) >= n; }, timeout);
}

bool Dtmd::WaitStatus(const std::string& gid, const std::string& want,
                      std::chrono::milliseconds timeout) const {
  bool ok = WaitUntil([&] { return Status(gid) == want; }, timeout);
  EXPECT_TRUE(ok) << gid << " not " << want << " after " << timeout.count()
                  << " ms: " << bj::serialize(Query(gid));
  return ok;
}

std::string Dtmd::CronOnce(int64_t forward_s) const {
  if (kReferenceServer) {
    ADD_FAILURE() << "CronOnce needs dtmd's test control: mark the scenario LYNX_DTMD_ONLY";
    return "";
  }
  auto res =
      Http(port_, "POST", WithQuery("/api/test/cronOnce", {{"forward", std::to_string(forward_s)}}),
           "", AuthHeaders());
  EXPECT_EQ(res.status, 200) << "cronOnce: " << res.error << res.body;
  return JsonString(res.Json(), "gid");
}

bool Dtmd::Ping() const { return Http(port_, "GET", "/api/ping").status == 200; }

// ---------------------------------------------------------------------------------------------
// Request bodies

TransRequest& TransRequest::Add(const std::string& action, const std::string& compensate,
                                const std::string& payload) {
  steps.push_back({{"action", action}, {"compensate", compensate}});
  payloads.push_back(payload);
  return *this;
}

TransRequest& TransRequest::AddMsg(const std::string& action, const std::string& payload) {
  steps.push_back({{"action", action}});
  payloads.push_back(payload);
  return *this;
}

std::string TransRequest::Json() const {
  // Field for field what the Go SDK's TransBase marshals (omitempty where Go has it).
  bj::object o;
  o["gid"] = gid;
  o["trans_type"] = trans_type;
  if (!custom_data.empty()) o["custom_data"] = custom_data;
  if (!steps.empty()) {
    bj::array a;
    for (const auto& s : steps) {
      bj::object step;
      for (const auto& [k, v] : s) step[k] = v;
      a.push_back(std::move(step));
    }
    o["steps"] = std::move(a);
  }
  if (!payloads.empty()) {
    bj::array a;
    for (const auto& p : payloads) a.emplace_back(p);
    o["payloads"] = std::move(a);
  }
  if (!query_prepared.empty()) o["query_prepared"] = query_prepared;
  o["protocol"] = "";
  if (!rollback_reason.empty()) o["rollback_reason"] = rollback_reason;
  if (wait_result) o["wait_result"] = true;
  if (timeout_to_fail) o["timeout_to_fail"] = timeout_to_fail;
  if (request_timeout) o["request_timeout"] = request_timeout;
  if (retry_interval) o["retry_interval"] = retry_interval;
  if (!branch_headers.empty()) {
    bj::object h;
    for (const auto& [k, v] : branch_headers) h[k] = v;
    o["branch_headers"] = std::move(h);
  }
  o["concurrent"] = concurrent;
  if (retry_limit) o["retry_limit"] = retry_limit;
  return bj::serialize(o);
}

std::string BusiPayload(const std::string& trans_out_result, const std::string& trans_in_result) {
  bj::object o{{"amount", 30},
               {"trans_in_result", trans_in_result},
               {"trans_out_result", trans_out_result},
               {"store", ""}};
  return bj::serialize(o);
}

// ---------------------------------------------------------------------------------------------
// Fixture

void IntegrationTest::SetUp() {
  dir_ = std::make_unique<TempDir>("dtmd-it");
  ASSERT_FALSE(dir_->path().empty()) << "mkdtemp failed";
  std::string err;
  ASSERT_TRUE(busi_.Start(dir_->path(), &err)) << err << "\n" << busi_.LogTail();
  DtmdOptions opts = Options();
  opts.extra_yaml = "AlertWebHook: " + busi_.Url("AlertWebHook") + "\n" + opts.extra_yaml;
  ASSERT_TRUE(dtm_.Start(dir_->path(), opts, &err)) << err << "\n" << dtm_.LogTail();
}

void IntegrationTest::TearDown() {
  if (HasFailure()) {
    std::cerr << (kReferenceServer ? "---- reference DTM log (" : "---- dtmd log (") << dir_->path()
              << ") ----\n"
              << dtm_.LogTail() << "\n---- busi log ----\n"
              << busi_.LogTail() << "\n";
  }
}

std::string IntegrationTest::TestName() {
  return ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

TransRequest IntegrationTest::Saga(const std::string& gid, const std::string& out_result,
                                   const std::string& in_result) const {
  TransRequest r;
  r.gid = gid;
  r.trans_type = "saga";
  const std::string payload = BusiPayload(out_result, in_result);
  r.Add(busi_.Url("TransOut"), busi_.Url("TransOutRevert"), payload);
  r.Add(busi_.Url("TransIn"), busi_.Url("TransInRevert"), payload);
  return r;
}

void IntegrationTest::SubscribeHttpTrans() {
  if (topic_subscribed_) return;
  for (const char* route : {"TransOut", "TransIn"}) {
    auto res = dtm_.Get(
        "subscribe", {{"topic", "http_trans"}, {"url", busi_.Url(route)}, {"remark", "for test"}});
    EXPECT_EQ(res.status, 200) << res.error << res.body;
  }
  topic_subscribed_ = true;
}

TransRequest IntegrationTest::Msg(const std::string& gid) {
  SubscribeHttpTrans();
  TransRequest r;
  r.gid = gid;
  r.trans_type = "msg";
  r.AddMsg("topic://http_trans", BusiPayload());
  r.query_prepared = busi_.Url("QueryPrepared");
  return r;
}

}  // namespace lynx::it
