// Integration-test harness: runs the real dtmd binary and the scriptable busi_server as child
// processes (each on port 0 with its own temp dir), and gives tests a small synchronous HTTP
// client plus DTM-client helpers (request bodies as the Go SDK builds them, queries, cron passes).
// Used from the test thread; Http() and the Dtmd/Busi request helpers may also be called from
// several threads at once (each call opens its own connection).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lynx::it {

using Headers = std::vector<std::pair<std::string, std::string>>;
using Params = std::vector<std::pair<std::string, std::string>>;

struct HttpResponse {
  int status = 0;  // 0: transport error (see error)
  std::string body;
  std::string error;
  // The body parsed as JSON; null when it is not JSON.
  boost::json::value Json() const;
};

// One request on a fresh connection to 127.0.0.1:port. Never throws; a transport failure or a
// timeout gives status 0.
HttpResponse Http(uint16_t port, const std::string& method, const std::string& target,
                  const std::string& body = "", const Headers& headers = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Writes raw bytes to 127.0.0.1:port and returns whatever comes back until the server closes the
// connection (or `timeout` passes). For requests that are not valid HTTP.
std::string RawExchange(uint16_t port, const std::string& bytes,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));

// True when something accepts TCP connections on 127.0.0.1:port.
bool PortAccepts(uint16_t port);

// A local port nobody listens on (bound to an ephemeral port and released again).
uint16_t UnusedPort();

// "path?k=v&..." with percent-encoded keys and values.
std::string WithQuery(const std::string& path, const Params& params);

// Polls `cond` every few milliseconds until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& cond,
               std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A child process that is always killed (SIGKILL) and reaped when this object dies. The child
// also gets SIGKILL if the thread that started it exits (PR_SET_PDEATHSIG), so a crashing test
// binary leaves no orphans.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // stdout and stderr are appended to log_path; `cwd` (when not empty) is the child's working
  // directory.
  bool Start(const std::vector<std::string>& argv, const std::string& log_path, std::string* err,
             const std::string& cwd = "");
  bool Alive();
  void Kill();  // SIGKILL + reap
  // SIGTERM, then SIGKILL after `grace`; returns the exit status when it exited by itself.
  std::optional<int> Terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));
  pid_t pid() const { return pid_; }
  // The exit code once Alive() found the process exited by itself.
  std::optional<int> exit_code() const { return exit_code_; }

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// A fresh directory under $TMPDIR (or /tmp), removed on destruction unless LYNX_IT_KEEP is set.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// One recorded call at busi_server.
struct BusiCall {
  int64_t seq = 0;
  std::string route;
  std::string method;
  std::map<std::string, std::string> query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string result;
  std::string Query(const std::string& k) const;
  std::string Header(const std::string& k) const;
};

class Busi {
 public:
  bool Start(const std::string& dir, std::string* err);
  uint16_t port() const { return port_; }
  // "http://127.0.0.1:<port>/api/busi/<route>"
  std::string Url(const std::string& route) const;
  // "127.0.0.1:<grpc port>/busi.Busi/<method>": the gRPC branch URL of route "grpc:<method>".
  std::string GrpcUrl(const std::string& method) const;
  // Replaces the route's queue of scripted results.
  void Script(const std::string& route, const std::vector<std::string>& results);
  // Sticky result when nothing else decides ("" clears).
  void SetDefault(const std::string& route, const std::string& result);
  void Release(const std::string& gate);
  void Reset();
  // Recorded calls in arrival order; empty filters match everything.
  std::vector<BusiCall> Calls(const std::string& route = "", const std::string& gid = "") const;
  std::string LogTail() const;

 private:
  ChildProcess proc_;
  std::string dir_;
  uint16_t port_ = 0;
  uint16_t grpc_port_ = 0;
};

// Which DTM server the fixtures start. The integration_test binary runs dtmd; the
// reference_sdk_test binary (tests/interop) is compiled from the same SDK scenario sources with
// LYNX_IT_REFERENCE_SERVER=1 and runs them against the reference server, DTM's own Go
// implementation (github.com/dtm-labs/dtm at the release scripts/reference-dtm.sh builds; its
// binary is named by $LYNX_REFERENCE_DTM). The reference has no test control: no cron passes on
// demand, no pass counter, no clock shift; its own cron loop runs (TransCronInterval 1 s).
#ifndef LYNX_IT_REFERENCE_SERVER
#define LYNX_IT_REFERENCE_SERVER 0
#endif
inline constexpr bool kReferenceServer = LYNX_IT_REFERENCE_SERVER != 0;

// Skips the current test on the reference server: the scenario needs something only dtmd offers
// (test control, a dtmd-only feature). `reason` says what.
#define LYNX_DTMD_ONLY(reason)                 \
  do {                                         \
    if (::lynx::it::kReferenceServer) {        \
      GTEST_SKIP() << "dtmd only: " << reason; \
    }                                          \
  } while (0)

struct DtmdOptions {
  // Store.Driver; empty: $LYNX_IT_STORE when set, else dtmd's default driver (the embedded
  // store). postgres, mysql and redis use the servers of scripts/lib/databases.sh, each dtmd in a
  // schema / database / key prefix of its own unless store_scope names a shared one;
  // redis-compact is redis with Store.RedisLayout: compact.
  std::string store;
  // Several dtmd instances on one store: the same non-empty scope gives the same schema /
  // database / key prefix.
  std::string store_scope;
  std::string store_yaml;  // more keys under Store:, each line indented by two spaces
  // Runs dtmd's own cron loop (TransCronInterval 1) instead of test-driven passes.
  bool cron = false;
  std::string extra_yaml;  // appended to the generated config file
  // RLIMIT_NOFILE of the dtmd process (soft:hard), e.g. "64:64"; empty leaves it inherited.
  std::string nofile_limit;
  // Sent as a bearer token on the harness's own calls (Get/Post/CronOnce/...), for a dtmd with
  // Auth.Enabled (extra_yaml).
  std::string auth_token;
};

// The driver a Dtmd started with `options` uses ("" = dtmd's default).
std::string StoreDriverOf(const DtmdOptions& options);

// LYNX_IT_AUTH=1 (ctest integration_test_auth): every dtmd requires tokens; the harness calls as
// admin (kItAdminToken) and the SDK clients of sdk_fixture.h as client (kItClientToken).
bool AuthEverywhere();
inline constexpr char kItClientToken[] = "it-client-token-0123456789";
inline constexpr char kItAdminToken[] = "it-admin-token-0123456789";

// The DTM server under test: dtmd, or the reference server in the reference_sdk_test binary
// (kReferenceServer; the methods below note where they differ).
class Dtmd {
 public:
  // Starts dtmd with a fresh data dir under `dir`, test control on and the cron loop off.
  // Reference: the reference server with its own working dir under `dir` (its BoltDB file is
  // ./dtm.bolt), on free ports, once it answers newGid; `options.store` is ignored and
  // `options.extra_yaml` is appended to its config (DTM's keys only).
  bool Start(const std::string& dir, const DtmdOptions& options, std::string* err);
  // Graceful stop, then start again on the same data dir (new port).
  bool Restart(std::string* err);
  void Kill9();
  // SIGTERM; dtmd's exit code, nullopt when it had to be killed or was not running.
  std::optional<int> Stop();
  // Starts again after Kill9/Stop on the same data dir (new port).
  bool Relaunch(std::string* err) { return Launch(err); }
  bool Alive() { return proc_.Alive(); }
  pid_t pid() const { return proc_.pid(); }
  const std::string& dir() const { return dir_; }  // data dir: dir() + "/data"
  uint16_t port() const { return port_; }
  std::string Url() const;  // "http://127.0.0.1:<port>/api/dtmsvr"
  uint16_t grpc_port() const { return grpc_port_; }
  std::string GrpcServer() const;  // "127.0.0.1:<grpc port>"
  std::string LogTail() const;

  // The Authorization header of options.auth_token (empty without one).
  Headers AuthHeaders() const;
  HttpResponse Get(const std::string& api, const Params& params = {}) const;
  HttpResponse Post(const std::string& api, const std::string& body, const Params& params = {},
                    const Headers& headers = {}) const;

  // /api/dtmsvr/query: the whole reply (transaction + branches).
  boost::json::value Query(const std::string& gid) const;
  // Global status, "" when the gid is unknown.
  std::string Status(const std::string& gid) const;
  std::string RollbackReason(const std::string& gid) const;
  // Branch statuses in storage order.
  std::vector<std::string> BranchStatuses(const std::string& gid) const;
  // /all?gid=: true when a transaction with that gid is stored.
  bool Exists(const std::string& gid) const;
  // Completed processing passes of gid (-1 on the reference: it does not count them).
  int64_t Passes(const std::string& gid) const;
  // Awaits at least n completed passes (polls /api/test/passes until `timeout`).
  // Reference (n must be 1): awaits a final status (succeed / failed) through /query instead.
  bool WaitPasses(const std::string& gid, int64_t n,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Awaits status `want` of gid through /query (any server).
  bool WaitStatus(const std::string& gid, const std::string& want,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // One synchronous cron pass with the clock `forward_s` seconds ahead; the gid processed or "".
  // dtmd only (a test failure on the reference).
  std::string CronOnce(int64_t forward_s = 0) const;
  bool Ping() const;

 private:
  bool Launch(std::string* err);
  bool LaunchReference(std::string* err);

  ChildProcess proc_;
  std::string dir_;
  DtmdOptions options_;
  uint16_t port_ = 0;
  uint16_t grpc_port_ = 0;
};

// A saga/msg/tcc/xa request body with the fields the Go SDK sends (dtm-protocol.md §2.3).
struct TransRequest {
  std::string gid;
  std::string trans_type;
  std::vector<std::map<std::string, std::string>> steps;
  std::vector<std::string> payloads;
  std::string custom_data;
  std::string query_prepared;
  bool wait_result = false;
  int64_t timeout_to_fail = 0;
  int64_t request_timeout = 0;
  int64_t retry_interval = 0;
  int64_t retry_limit = 0;
  std::map<std::string, std::string> branch_headers;
  bool concurrent = false;
  std::string rollback_reason;

  // Saga step: action + compensate URLs and the payload sent to both.
  TransRequest& Add(const std::string& action, const std::string& compensate,
                    const std::string& payload);
  // Msg step: action URL (or topic://name) and its payload.
  TransRequest& AddMsg(const std::string& action, const std::string& payload);
  std::string Json() const;
};

// DTM busi's request payload: {"amount":30,"trans_out_result":..,"trans_in_result":..}.
std::string BusiPayload(const std::string& trans_out_result = "",
                        const std::string& trans_in_result = "");

// DTM's status names (global and branch), for assertions.
inline const std::string kPrepared = "prepared";
inline const std::string kSubmitted = "submitted";
inline const std::string kAborting = "aborting";
inline const std::string kSucceed = "succeed";
inline const std::string kFailed = "failed";

// The fixture: a fresh busi_server and a fresh dtmd (embedded store, AlertWebHook pointing at
// busi) for every test.
class IntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Overridden by fixtures that need other dtmd options.
  virtual DtmdOptions Options() const { return {}; }

  // The current test's name, used as gid prefix (as DTM's tests use their function name).
  static std::string TestName();

  // A saga over TransOut/TransIn with DTM's GenReqHTTP payload (genSaga).
  TransRequest Saga(const std::string& gid, const std::string& out_result = "",
                    const std::string& in_result = "") const;
  // A msg on the topic http_trans (subscribers TransOut, TransIn) with QueryPrepared (genMsg).
  TransRequest Msg(const std::string& gid);
  void SubscribeHttpTrans();

  // Busi calls of gid as "<route>/<branch_id>/<op>" in arrival order, leaving out op `skip_op`.
  std::vector<std::string> CallsExceptOp(const std::string& gid, const std::string& skip_op) {
    std::vector<std::string> out;
    for (const auto& c : busi_.Calls("", gid)) {
      if (c.Query("op") == skip_op) continue;
      out.push_back(c.route + "/" + c.Query("branch_id") + "/" + c.Query("op"));
    }
    return out;
  }

  HttpResponse Submit(const TransRequest& r) const { return dtm_.Post("submit", r.Json()); }
  HttpResponse Prepare(const TransRequest& r) const { return dtm_.Post("prepare", r.Json()); }
  HttpResponse Abort(const TransRequest& r) const { return dtm_.Post("abort", r.Json()); }

  std::unique_ptr<TempDir> dir_;
  Busi busi_;
  Dtmd dtm_;
  bool topic_subscribed_ = false;
};

// Branch statuses in storage order, e.g. Statuses({kPrepared, kSucceed}).
using Statuses = std::vector<std::string>;

}  // namespace lynx::it
