// Security of the real dtmd (docs/security.md): bearer tokens and roles on every HTTP route and
// gRPC method, the audit log, token rotation, HTTPS and mutual TLS on the HTTP port, https://
// branches, the branch-URL policy at the edge and after DNS resolution, redaction of secret
// headers, cut reply quotes, and the fail-safe start-up rules. Every test starts its own dtmd.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "../support/test_certs.h"
#include "common/http_client.h"
#include "common/http_server.h"
#include "common/tls.h"
#include "proto/dtmgimp.grpc.pb.h"
#include "sdk_fixture.h"

namespace lynx::it {
namespace {

namespace bj = boost::json;
namespace asio = boost::asio;
using google::protobuf::Empty;

constexpr char kClientToken[] = "client-token-0123456789abcdef";
constexpr char kReaderToken[] = "reader-token-0123456789abcdef";
constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
constexpr char kWrongToken[] = "wrong-token-0123456789abcdef";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Headers Bearer(const std::string& token) {
  if (token.empty()) return {};
  return {{"Authorization", "Bearer " + token}};
}

void WriteTokens(const std::string& path, const std::string& client_token) {
  const std::string tmp = path + ".tmp";
  std::ofstream(tmp) << "# name role token\napp1 client " << client_token << "\nops reader "
                     << kReaderToken << "\nroot admin " << kAdminToken << "\n";
  std::filesystem::rename(tmp, path);  // replaced whole, as an operator's tooling would
}

// dtmd with Auth.Enabled and three tokens; the SDK client uses the client token and the harness
// the admin token.
class AuthTest : public SdkTest {
 protected:
  virtual int ReloadCheckInterval() const { return 1; }
  DtmdOptions Options() const override {
    WriteTokens(dir_->path() + "/tokens", kClientToken);
    DtmdOptions o;
    o.extra_yaml = "Auth:\n  Enabled: true\n  TokensFile: " + dir_->path() +
                   "/tokens\n  ReloadCheckInterval: " + std::to_string(ReloadCheckInterval()) +
                   "\n";
    o.auth_token = kAdminToken;
    return o;
  }
  dtm::DtmConfig Config() const override {
    dtm::DtmConfig c = SdkTest::Config();
    c.auth_token = kClientToken;
    return c;
  }
  std::string Log() const { return ReadAll(dtm_.dir() + "/dtmd.log"); }
};

struct Route {
  std::string method, target, body;
  std::string access;  // client, reader, both (client or reader), admin, open, any
};

bool Allows(const std::string& access, const std::string& role) {
  if (access == "open" || access == "any" || role == "admin") return true;
  if (access == "both") return role == "client" || role == "reader";
  return access == role;
}

TEST_F(AuthTest, EveryHttpRouteNeedsTheRightRole) {
  const std::string gid = "auth-" + TestName();
  const std::string msg = R"({"gid":")" + gid + R"(","trans_type":"msg","steps":[],"payloads":[]})";
  const std::vector<Route> routes = {
      {"GET", "/api/dtmsvr/newGid", "", "client"},
      {"POST", "/api/dtmsvr/prepare", msg, "client"},
      {"POST", "/api/dtmsvr/submit", msg, "client"},
      {"POST", "/api/dtmsvr/abort", msg, "client"},
      {"POST", "/api/dtmsvr/registerBranch", R"({"gid":"x","branch_id":"01","trans_type":"tcc"})",
       "client"},
      {"POST", "/api/dtmsvr/prepareWorkflow", msg, "client"},
      {"POST", "/api/json-rpc", R"({"jsonrpc":"2.0","id":"1","method":"newGid"})", "client"},
      {"GET", "/api/dtmsvr/query?gid=" + gid, "", "both"},
      {"GET", "/api/dtmsvr/attempts?gid=" + gid, "", "both"},
      {"GET", "/api/dtmsvr/version", "", "both"},
      {"GET", "/api/dtmsvr/all", "", "reader"},
      {"GET", "/api/dtmsvr/scanKV?cat=topics", "", "reader"},
      {"GET", "/api/dtmsvr/queryKV?cat=topics&key=t", "", "reader"},
      {"GET", "/api/metrics", "", "reader"},
      {"GET", "/api/dtmsvr/all?overdue=1&gidPrefix=auth", "", "reader"},
      {"GET", "/api/admin/summary", "", "reader"},
      {"POST", "/api/dtmsvr/forceStop", R"({"gid":")" + gid + R"("})", "admin"},
      {"GET", "/api/dtmsvr/resetCronTime", "", "admin"},
      {"POST", "/api/dtmsvr/resetNextCronTime", R"({"gid":")" + gid + R"("})", "admin"},
      {"GET", "/api/dtmsvr/subscribe?topic=t&url=http%3A%2F%2F127.0.0.1%3A1%2Fx&remark=r", "",
       "admin"},
      {"GET", "/api/dtmsvr/unsubscribe?topic=t&url=http%3A%2F%2F127.0.0.1%3A1%2Fx", "", "admin"},
      {"DELETE", "/api/dtmsvr/topic/t", "", "admin"},
      {"POST", "/api/test/cronOnce", "", "admin"},
      {"GET", "/api/dtmsvr/noSuchRoute", "", "any"},
      {"GET", "/api/ping", "", "open"},
      // The console's page holds no data; its API calls are checked one by one (above).
      {"GET", "/admin/", "", "open"},
  };
  const std::vector<std::pair<std::string, std::string>> callers = {{"none", ""},
                                                                    {"wrong", kWrongToken},
                                                                    {"client", kClientToken},
                                                                    {"reader", kReaderToken},
                                                                    {"admin", kAdminToken}};
  for (const auto& r : routes) {
    for (const auto& [role, token] : callers) {
      auto res = Http(dtm_.port(), r.method, r.target, r.body, Bearer(token));
      const std::string what = r.method + " " + r.target + " as " + role + ": " +
                               std::to_string(res.status) + " " + res.body;
      if (r.access == "open") {
        EXPECT_EQ(res.status, 200) << what;
      } else if (role == "none" || role == "wrong") {
        EXPECT_EQ(res.status, 401) << what;
        EXPECT_NE(res.body.find("authentication"), std::string::npos) << what;
      } else if (Allows(r.access, role)) {
        EXPECT_NE(res.status, 401) << what;
        EXPECT_NE(res.status, 403) << what;
        if (r.access == "any") {
          EXPECT_EQ(res.status, 404) << what;
        }
      } else {
        EXPECT_EQ(res.status, 403) << what;
        EXPECT_NE(res.body.find("may not call"), std::string::npos) << what;
      }
    }
  }
  // The allowed prepare went through (so the denied ones were refused, not broken).
  EXPECT_TRUE(dtm_.Exists(gid));
  // The console learns the caller's role from /api/admin/server: without a token only that it
  // must sign in; a wrong token is refused, a client token may not read the server's config.
  auto anonymous = Http(dtm_.port(), "GET", "/api/admin/server");
  EXPECT_EQ(anonymous.status, 200);
  EXPECT_EQ(anonymous.body, R"({"auth_enabled":true,"role":"none"})");
  EXPECT_EQ(Http(dtm_.port(), "GET", "/api/admin/server", "", Bearer(kWrongToken)).status, 401);
  EXPECT_EQ(Http(dtm_.port(), "GET", "/api/admin/server", "", Bearer(kClientToken)).status, 403);
  for (const auto& [role, token] :
       {std::pair<std::string, std::string>{"reader", kReaderToken}, {"admin", kAdminToken}}) {
    auto res = Http(dtm_.port(), "GET", "/api/admin/server", "", Bearer(token));
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(res.Json().as_object().at("role").as_string(), role);
    EXPECT_EQ(res.Json().as_object().at("auth_enabled").as_bool(), true);
  }
}

// One gRPC call with an optional token; the status code.
grpc::StatusCode GrpcCode(const std::string& server, const std::string& token,
                          const std::string& method) {
  auto channel = grpc::CreateChannel(server, grpc::InsecureChannelCredentials());
  auto stub = dtmgimp::Dtm::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  Empty empty;
  dtmgimp::DtmRequest req;
  req.set_gid("grpc-auth-" + method);
  req.set_transtype("msg");
  dtmgimp::DtmTopicRequest topic;
  topic.set_topic("t");
  topic.set_url("127.0.0.1:1/busi.Busi/X");
  dtmgimp::DtmGidReply gid;
  dtmgimp::DtmBranchRequest branch;
  dtmgimp::DtmProgressesReply progresses;
  grpc::Status st;
  if (method == "NewGid") st = stub->NewGid(&ctx, empty, &gid);
  if (method == "Prepare") st = stub->Prepare(&ctx, req, &empty);
  if (method == "Submit") st = stub->Submit(&ctx, req, &empty);
  if (method == "Abort") st = stub->Abort(&ctx, req, &empty);
  if (method == "RegisterBranch") st = stub->RegisterBranch(&ctx, branch, &empty);
  if (method == "PrepareWorkflow") st = stub->PrepareWorkflow(&ctx, req, &progresses);
  if (method == "Subscribe") st = stub->Subscribe(&ctx, topic, &empty);
  if (method == "Unsubscribe") st = stub->Unsubscribe(&ctx, topic, &empty);
  if (method == "DeleteTopic") st = stub->DeleteTopic(&ctx, topic, &empty);
  return st.error_code();
}

TEST_F(AuthTest, EveryGrpcMethodNeedsTheRightRole) {
  const std::vector<std::pair<std::string, std::string>> methods = {
      {"NewGid", "client"},   {"Prepare", "client"},        {"Submit", "client"},
      {"Abort", "client"},    {"RegisterBranch", "client"}, {"PrepareWorkflow", "client"},
      {"Subscribe", "admin"}, {"Unsubscribe", "admin"},     {"DeleteTopic", "admin"}};
  const std::vector<std::pair<std::string, std::string>> callers = {{"none", ""},
                                                                    {"wrong", kWrongToken},
                                                                    {"client", kClientToken},
                                                                    {"reader", kReaderToken},
                                                                    {"admin", kAdminToken}};
  for (const auto& [method, access] : methods) {
    for (const auto& [role, token] : callers) {
      const grpc::StatusCode code = GrpcCode(dtm_.GrpcServer(), token, method);
      const std::string what = method + " as " + role + ": code " + std::to_string(code);
      if (role == "none" || role == "wrong") {
        EXPECT_EQ(code, grpc::StatusCode::UNAUTHENTICATED) << what;
      } else if (Allows(access, role)) {
        EXPECT_NE(code, grpc::StatusCode::UNAUTHENTICATED) << what;
        EXPECT_NE(code, grpc::StatusCode::PERMISSION_DENIED) << what;
      } else {
        EXPECT_EQ(code, grpc::StatusCode::PERMISSION_DENIED) << what;
      }
    }
  }
  // Health stays open.
  auto channel = grpc::CreateChannel(dtm_.GrpcServer(), grpc::InsecureChannelCredentials());
  grpc::GenericStub generic(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::ByteBuffer request, reply;
  grpc::Slice empty_slice("", 0);
  request = grpc::ByteBuffer(&empty_slice, 1);
  std::promise<grpc::Status> done;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &reply,
                    [&done](grpc::Status st) { done.set_value(st); });
  EXPECT_TRUE(done.get_future().get().ok());
}

TEST_F(AuthTest, AdminActionsAreAudited) {
  const std::string gid = "audit-" + TestName();
  TransRequest r;
  r.gid = gid;
  r.trans_type = "tcc";
  ASSERT_EQ(Prepare(r).status, 200);
  auto denied = Http(dtm_.port(), "POST", "/api/dtmsvr/forceStop", R"({"gid":")" + gid + R"("})",
                     Bearer(kClientToken));
  EXPECT_EQ(denied.status, 403);
  auto ok = Http(dtm_.port(), "POST", "/api/dtmsvr/forceStop", R"({"gid":")" + gid + R"("})",
                 Bearer(kAdminToken));
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(GrpcCode(dtm_.GrpcServer(), kAdminToken, "Subscribe"), grpc::StatusCode::OK);
  const std::string log = Log();
  EXPECT_NE(log.find("audit: action=forceStop token=app1 role=client peer=127.0.0.1:"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("audit: action=forceStop token=root role=admin peer=127.0.0.1:"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("gid=\"" + gid + "\" result=ok"), std::string::npos) << log;
  EXPECT_NE(log.find("audit: action=subscribe token=root role=admin peer=ipv4:127.0.0.1:"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("topic=\"t\" url=\"127.0.0.1:1/busi.Busi/X\" result=ok"), std::string::npos)
      << log;
  // Tokens never reach the log.
  for (const char* secret : {kClientToken, kReaderToken, kAdminToken}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret;
  }
}

TEST_F(AuthTest, TokensFileChangeRotatesTokensWithoutRestart) {
  const std::string rotated = "rotated-client-token-0123456789";
  WriteTokens(dtm_.dir() + "/tokens", rotated);
  EXPECT_TRUE(WaitUntil([&] {
    return Http(dtm_.port(), "GET", "/api/dtmsvr/newGid", "", Bearer(rotated)).status == 200;
  }));
  EXPECT_EQ(Http(dtm_.port(), "GET", "/api/dtmsvr/newGid", "", Bearer(kClientToken)).status, 401);
  EXPECT_NE(Log().find("audit: action=tokenReload token=- role=none peer=local "
                       "trigger=tokens file changed tokens=3 result=ok"),
            std::string::npos)
      << Log();
  // A broken file keeps the tokens in use.
  std::ofstream(dtm_.dir() + "/tokens.tmp") << "app1 client short\n";
  std::filesystem::rename(dtm_.dir() + "/tokens.tmp", dtm_.dir() + "/tokens");
  EXPECT_TRUE(WaitUntil([&] { return Log().find("tokens not reloaded") != std::string::npos; }));
  EXPECT_EQ(Http(dtm_.port(), "GET", "/api/dtmsvr/newGid", "", Bearer(rotated)).status, 200);
}

class AuthSighupTest : public AuthTest {
 protected:
  int ReloadCheckInterval() const override { return 3600; }
};

TEST_F(AuthSighupTest, SighupReloadsTokens) {
  const std::string rotated = "sighup-client-token-0123456789";
  WriteTokens(dtm_.dir() + "/tokens", rotated);
  EXPECT_EQ(Http(dtm_.port(), "GET", "/api/dtmsvr/newGid", "", Bearer(rotated)).status, 401);
  ASSERT_EQ(kill(dtm_.pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitUntil([&] {
    return Http(dtm_.port(), "GET", "/api/dtmsvr/newGid", "", Bearer(rotated)).status == 200;
  }));
  EXPECT_NE(Log().find("trigger=SIGHUP tokens=3 result=ok"), std::string::npos) << Log();
}

// The SDK sends its token over HTTP and gRPC (every mode also runs with tokens in the
// integration_test_auth suite); a client without one is refused with 401 / UNAUTHENTICATED.
TEST_F(AuthTest, SdkSendsItsTokenOverHttpAndGrpc) {
  const std::string gid = "sdk-" + TestName();
  dtm::Saga saga = client_->NewSaga(gid);
  saga.Add(B("TransOut"), B("TransOutRevert"), BusiPayload());
  ASSERT_TRUE(saga.Submit().ok());
  EXPECT_TRUE(dtm_.WaitStatus(gid, kSucceed));
  dtm::Saga grpc_saga = client_->NewSagaGrpc(gid + "-grpc");
  ASSERT_TRUE(grpc_saga.Submit().ok());
  EXPECT_TRUE(dtm_.WaitStatus(gid + "-grpc", kSucceed));
  // Another server address (same dtmd, by name): no token registered for it.
  const std::string other = "http://localhost:" + std::to_string(dtm_.port()) + "/api/dtmsvr";
  dtm::Saga anonymous(other, gid + "-anon");
  Status st = anonymous.Submit();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("401"), std::string::npos) << st.message();
  dtm::Saga anonymous_grpc =
      dtm::NewSagaGrpc("localhost:" + std::to_string(dtm_.grpc_port()), gid + "-anon-grpc");
  st = anonymous_grpc.Submit();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("authentication required"), std::string::npos) << st.message();
  EXPECT_EQ(dtm_.Status(gid + "-anon"), "");
}

// ---------------------------------------------------------------------------------------------
// HTTPS on the HTTP port, mutual TLS, https:// branches.

class TlsTest : public SdkTest {
 protected:
  void SetUp() override {
    certs_dir_ = std::make_unique<TempDir>("dtmd-tls");
    std::string err;
    ASSERT_TRUE(test_support::MakeTestCerts(certs_dir_->path(), &certs_, &err)) << err;
    IntegrationTest::SetUp();  // the SDK client is made per test (https needs its config)
  }
  virtual bool MutualTls() const { return false; }
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.extra_yaml = "HttpCertFile: " + certs_.server_cert + "\nHttpKeyFile: " + certs_.server_key +
                   "\nBranchCaFile: " + certs_.ca_file + "\n";
    if (MutualTls()) o.extra_yaml += "HttpCaFile: " + certs_.ca_file + "\n";
    return o;
  }
  std::string HttpsUrl() const {
    return "https://localhost:" + std::to_string(dtm_.port()) + "/api/dtmsvr";
  }
  // GET newGid over https with the given trust and client certificate.
  StatusOr<http::ClientResponse> Get(const http::ClientOptions& options) {
    asio::io_context io;
    http::ClientPool pool(io.get_executor(), options);
    std::optional<StatusOr<http::ClientResponse>> out;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          http::ClientRequest req;
          req.url = HttpsUrl() + "/newGid";
          req.timeout_ms = 10000;
          out = co_await pool.Send(std::move(req));
        },
        asio::detached);
    io.run();
    return std::move(*out);
  }

  std::unique_ptr<TempDir> certs_dir_;
  test_support::TestCerts certs_;
};

TEST_F(TlsTest, HttpPortServesHttpsOnly) {
  http::ClientOptions trusted;
  trusted.ca_file = certs_.ca_file;
  auto res = Get(trusted);
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(res->status, 200);
  EXPECT_NE(res->body.find("gid"), std::string::npos);
  http::ClientOptions other;
  other.ca_file = certs_.other_ca_file;
  auto refused = Get(other);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("TLS handshake"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(Http(dtm_.port(), "GET", "/api/dtmsvr/newGid").status, 200);  // plain HTTP

  // The SDK over https with the CA in lynx.dtm.
  dtm::DtmConfig c = Config();
  c.server_url = HttpsUrl();
  c.http_ca_file = certs_.ca_file;
  dtm::DTMClient client(c);
  ASSERT_TRUE(client.StartupTasks().ok());
  dtm::Saga saga = client.NewSaga("tls-" + TestName());
  saga.Add(B("TransOut"), B("TransOutRevert"), BusiPayload());
  Status st = saga.SetWaitResult().Submit();
  EXPECT_TRUE(st.ok()) << st.message();
}

TEST_F(TlsTest, SighupReloadsTheCertificate) {
  // A new certificate for the same names, from the other CA, written over the served files.
  const std::string cmd =
      "cd '" + certs_dir_->path() +
      "' && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout s2.key "
      "-out s2.csr -subj /CN=s2 && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
      "extendedKeyUsage=serverAuth\\n' > s2.ext && openssl x509 -req -in s2.csr -CA "
      "other-ca.pem -CAkey other-ca.key -CAcreateserial -days 2 -extfile s2.ext -out s2.pem && "
      "cp s2.key server.key && cp s2.pem server.pem";
  ASSERT_EQ(std::system(("(" + cmd + ") > '" + certs_dir_->path() + "/reload.log' 2>&1").c_str()),
            0)
      << ReadAll(certs_dir_->path() + "/reload.log");
  http::ClientOptions other;
  other.ca_file = certs_.other_ca_file;
  EXPECT_FALSE(Get(other).ok());  // still the first certificate
  ASSERT_EQ(kill(dtm_.pid(), SIGHUP), 0);
  EXPECT_TRUE(WaitUntil([&] { return Get(other).ok(); }));
  EXPECT_NE(ReadAll(dtm_.dir() + "/dtmd.log").find("HTTPS certificate reloaded (SIGHUP)"),
            std::string::npos);
}

class MutualTlsTest : public TlsTest {
 protected:
  bool MutualTls() const override { return true; }
};

TEST_F(MutualTlsTest, ClientsMustPresentACertificateOfTheCa) {
  http::ClientOptions no_cert;
  no_cert.ca_file = certs_.ca_file;
  EXPECT_FALSE(Get(no_cert).ok());
  http::ClientOptions with_cert = no_cert;
  with_cert.cert_file = certs_.client_cert;
  with_cert.key_file = certs_.client_key;
  auto res = Get(with_cert);
  ASSERT_TRUE(res.ok()) << res.status().message();
  EXPECT_EQ(res->status, 200);
}

// A branch service on https:// (the common HTTP server with the test certificate), counting its
// calls.
class HttpsBranch {
 public:
  explicit HttpsBranch(const test_support::TestCerts& certs) {
    auto ctx = http::MakeServerTlsContext({certs.server_cert, certs.server_key, ""});
    EXPECT_TRUE(ctx.ok()) << ctx.status().message();
    http::ServerOptions options;
    auto shared = ctx.ok() ? *ctx : nullptr;
    options.tls = [shared] { return shared; };
    server_ = std::make_unique<http::Server>(io_, options,
                                             [this](http::ServerRequest&) { return Answer(); });
    EXPECT_TRUE(server_->Listen("127.0.0.1", 0).ok());
    server_->Start();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~HttpsBranch() {
    asio::post(io_, [this] { server_->Stop(); });
    work_.reset();
    io_.stop();
    thread_.join();
  }
  std::string Url(const std::string& route) const {
    return "https://localhost:" + std::to_string(server_->port()) + "/" + route;
  }
  int calls() const { return calls_; }

 private:
  asio::awaitable<http::ServerReply> Answer() {
    ++calls_;
    co_return http::ServerReply{200, R"({"dtm_result":"SUCCESS"})"};
  }
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::unique_ptr<http::Server> server_;
  std::thread thread_;
  std::atomic<int> calls_{0};
};

TEST_F(TlsTest, HttpsBranchesAreVerifiedAgainstBranchCaFile) {
  HttpsBranch branch(certs_);
  dtm::DtmConfig c = Config();
  c.server_url = HttpsUrl();
  c.http_ca_file = certs_.ca_file;
  dtm::DTMClient client(c);
  const std::string gid = "https-branch-" + TestName();
  dtm::Saga saga = client.NewSaga(gid);
  saga.Add(branch.Url("out"), branch.Url("out-revert"), "{}");
  Status st = saga.SetWaitResult().Submit();
  EXPECT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(branch.calls(), 1);

  // A dtmd that trusts only the system store refuses the same branch: nothing is called.
  TempDir dir("dtmd-tls-plain");
  Dtmd plain;
  std::string err;
  ASSERT_TRUE(plain.Start(dir.path(), {}, &err)) << err;
  TransRequest r;
  r.gid = gid + "-untrusted";
  r.trans_type = "saga";
  r.wait_result = true;
  r.Add(branch.Url("out"), branch.Url("out-revert"), "{}");
  auto res = plain.Post("submit", r.Json());
  EXPECT_NE(res.status, 200) << res.body;  // 425: not finished (the branch call keeps failing)
  EXPECT_NE(ReadAll(dir.path() + "/dtmd.log").find("TLS handshake with https://localhost:"),
            std::string::npos);
  EXPECT_EQ(branch.calls(), 1);
  EXPECT_EQ(plain.Status(r.gid), kSubmitted);
}

// ---------------------------------------------------------------------------------------------
// The branch-URL policy, redaction and quoting (default configuration, no authentication).

class PolicyTest : public IntegrationTest {};

TEST_F(PolicyTest, RefusesEachSchemeAndDeniedRangeAtTheEdge) {
  struct Case {
    std::string protocol, url;
  };
  const std::vector<Case> cases = {
      {"http", "http://169.254.169.254/latest/meta-data/"},
      {"http", "http://169.254.170.2/v2/credentials"},
      {"http", "http://[fd00:ec2::254]/latest/meta-data/"},
      {"http", "http://[::ffff:169.254.169.254]/"},
      {"http", "gopher://127.0.0.1:70/_x"},
      {"http", "file:///etc/passwd"},
      {"http", "ftp://127.0.0.1/x"},
      {"http", "127.0.0.1:8080/busi.Busi/TransOut"},
      {"grpc", "unix:/run/dtmd.sock/busi.Busi/TransOut"},
      {"grpc", "unix-abstract:dtmd/busi.Busi/TransOut"},
      {"grpc", "dns:///127.0.0.1:1/busi.Busi/TransOut"},
      {"grpc", "ipv4:127.0.0.1:1/busi.Busi/TransOut"},
      {"grpc", "169.254.169.254:80/busi.Busi/TransOut"},
  };
  int n = 0;
  for (const auto& c : cases) {
    TransRequest r = Saga(TestName() + "-" + std::to_string(n++));
    r.steps[0]["action"] = c.url;
    bj::value body = bj::parse(r.Json());
    body.as_object()["protocol"] = c.protocol;
    auto res = dtm_.Post("submit", bj::serialize(body));
    EXPECT_EQ(res.status, 400) << c.url << ": " << res.body;
    EXPECT_NE(res.body.find("refused by BranchUrlPolicy"), std::string::npos) << res.body;
    EXPECT_FALSE(dtm_.Exists(r.gid)) << c.url;
  }
  // registerBranch and subscribe too.
  const std::string gid = TestName() + "-tcc";
  TransRequest tcc;
  tcc.gid = gid;
  tcc.trans_type = "tcc";
  ASSERT_EQ(Prepare(tcc).status, 200);
  auto reg = dtm_.Post(
      "registerBranch",
      R"({"gid":")" + gid + R"(","branch_id":"01","trans_type":"tcc","data":"{}","confirm":")" +
          busi_.Url("TransInConfirm") + R"(","cancel":"http://169.254.169.254/cancel"})");
  EXPECT_EQ(reg.status, 400) << reg.body;
  EXPECT_NE(reg.body.find("cancel 'http://169.254.169.254/cancel' refused"), std::string::npos)
      << reg.body;
  auto sub = dtm_.Get("subscribe", {{"topic", "t"}, {"url", "file:///etc/shadow"}});
  EXPECT_EQ(sub.status, 400) << sub.body;
}

class CallTimePolicyTest : public IntegrationTest {
 protected:
  DtmdOptions Options() const override {
    DtmdOptions o;
    o.extra_yaml =
        "BranchUrlPolicy:\n  DenyHosts: [\"127.0.0.0/8\", \"::1\", \"169.254.0.0/16\"]\n";
    return o;
  }
};

TEST_F(CallTimePolicyTest, NamesResolvingIntoADeniedRangeAreNotCalled) {
  const std::string port = std::to_string(busi_.port());
  // A literal address in the range is refused at submit.
  TransRequest literal = Saga(TestName() + "-literal");
  auto res = Submit(literal);
  EXPECT_EQ(res.status, 400) << res.body;
  // Names and numeric forms pass the edge, then resolve into the range: no call is made.
  int n = 0;
  for (const std::string& host : {std::string("localhost"), std::string("2130706433")}) {
    TransRequest r = Saga(TestName() + "-" + std::to_string(n++));
    r.steps[0]["action"] = "http://" + host + ":" + port + "/api/busi/TransOut";
    r.steps[0]["compensate"] = "http://" + host + ":" + port + "/api/busi/TransOutRevert";
    r.steps.resize(1);
    r.payloads.resize(1);
    r.wait_result = true;
    auto submitted = Submit(r);
    EXPECT_NE(submitted.status, 200) << host << ": " << submitted.body;
    EXPECT_NE(ReadAll(dtm_.dir() + "/dtmd.log")
                  .find("branch host '" + host +
                        "' refused by BranchUrlPolicy: address 127.0.0.1 "
                        "is in denied '127.0.0.0/8'"),
              std::string::npos);
    EXPECT_EQ(dtm_.Status(r.gid), kSubmitted) << host;
    dtm_.CronOnce(3600);
    EXPECT_TRUE(busi_.Calls("", r.gid).empty()) << host;
  }
  // gRPC: dtmd resolves the target itself and refuses it.
  bj::object grpc_saga = bj::parse(Saga(TestName() + "-grpc").Json()).as_object();
  grpc_saga["protocol"] = "grpc";
  grpc_saga["wait_result"] = true;
  const std::string grpc_port = busi_.GrpcUrl("TransOut").substr(busi_.GrpcUrl("").find(':'));
  grpc_saga["steps"] = bj::array{
      bj::object{{"action", "localhost" + grpc_port}, {"compensate", "localhost" + grpc_port}}};
  grpc_saga["payloads"] = bj::array{""};
  auto grpc_res = dtm_.Post("submit", bj::serialize(grpc_saga));
  EXPECT_NE(grpc_res.status, 200);
  const std::string log = ReadAll(dtm_.dir() + "/dtmd.log");
  const size_t line = log.find(TestName() + "-grpc branch 01 action: localhost" + grpc_port);
  ASSERT_NE(line, std::string::npos) << log;
  EXPECT_EQ(log.find("refused by BranchUrlPolicy", line), log.find("retried", line) + 33)
      << log.substr(line, 400);
  EXPECT_TRUE(busi_.Calls("grpc:TransOut").empty());
}

TEST_F(PolicyTest, SecretHeadersAreRedactedInEveryOutput) {
  TransRequest r = Saga(TestName());
  r.branch_headers = {{"Authorization", "Bearer branch-secret-123"},
                      {"X-Api-Key", "key-secret-456"},
                      {"X-Trace", "visible-789"}};
  r.wait_result = true;
  ASSERT_EQ(Submit(r).status, 200);
  // The branches received the real values.
  auto calls = busi_.Calls("TransOut", r.gid);
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls[0].Header("authorization"), "Bearer branch-secret-123");
  EXPECT_EQ(calls[0].Header("x-api-key"), "key-secret-456");
  for (const auto& res : {dtm_.Get("query", {{"gid", r.gid}}), dtm_.Get("all", {{"gid", r.gid}})}) {
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.body.find("branch-secret-123"), std::string::npos) << res.body;
    EXPECT_EQ(res.body.find("key-secret-456"), std::string::npos) << res.body;
    EXPECT_NE(res.body.find("[redacted]"), std::string::npos) << res.body;
    EXPECT_NE(res.body.find("visible-789"), std::string::npos) << res.body;
  }
  const std::string log = ReadAll(dtm_.dir() + "/dtmd.log");
  EXPECT_EQ(log.find("branch-secret-123"), std::string::npos);
  EXPECT_EQ(log.find("key-secret-456"), std::string::npos);
}

TEST_F(PolicyTest, QuotedBranchRepliesAreCut) {
  busi_.Script("TransIn", {"FAILURE:" + std::string(5000, 'x')});
  TransRequest r = Saga(TestName());
  r.wait_result = true;
  auto res = Submit(r);
  EXPECT_EQ(res.status, 409);
  EXPECT_LT(res.body.size(), 1000u) << res.body.size();
  EXPECT_NE(res.body.find("bytes, cut]"), std::string::npos) << res.body;
  const std::string reason = dtm_.RollbackReason(r.gid);
  EXPECT_LT(reason.size(), 700u);
  EXPECT_GT(reason.size(), 400u);
  EXPECT_EQ(reason.substr(reason.size() - 7), "FAILURE") << reason;
}

// ---------------------------------------------------------------------------------------------
// Start-up rules.

class StartupTest : public ::testing::Test {
 protected:
  // Runs dtmd with `yaml` and `flags`; its exit code when it exits within 20 s, else nullopt
  // (then it is left running until the test ends).
  std::optional<int> Run(const std::string& yaml, const std::vector<std::string>& flags) {
    std::ofstream(dir_.path() + "/dtmd.yml") << yaml;
    std::vector<std::string> argv = {LYNX_DTMD_PATH,
                                     "-c",
                                     dir_.path() + "/dtmd.yml",
                                     "--data-dir",
                                     dir_.path() + "/data",
                                     "--http-port",
                                     "0",
                                     "--grpc-port",
                                     "0",
                                     "--port-file",
                                     dir_.path() + "/ports"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    std::string err;
    EXPECT_TRUE(proc_.Start(argv, Log(), &err)) << err;
    std::optional<int> code;
    WaitUntil([&] {
      if (std::filesystem::exists(dir_.path() + "/ports")) return true;
      if (!proc_.Alive()) {
        code = proc_.exit_code();
        return true;
      }
      return false;
    });
    return code;
  }
  std::string Log() const { return dir_.path() + "/dtmd.log"; }
  TempDir dir_{"dtmd-startup"};
  ChildProcess proc_;
};

TEST_F(StartupTest, TestControlRefusesANonLoopbackAddress) {
  auto code = Run("ListenAddress: 0.0.0.0\n", {"--enable-test-control"});
  ASSERT_TRUE(code.has_value());
  EXPECT_EQ(*code, 2);
  EXPECT_NE(ReadAll(Log()).find("needs ListenAddress on loopback"), std::string::npos)
      << ReadAll(Log());
}

TEST_F(StartupTest, WarnsWhenAuthenticationIsOffOnANonLoopbackAddress) {
  EXPECT_FALSE(Run("ListenAddress: 0.0.0.0\n", {}).has_value());
  EXPECT_TRUE(
      WaitUntil([&] { return ReadAll(Log()).find("authentication is off") != std::string::npos; }));
}

TEST_F(StartupTest, NoWarningOnLoopback) {
  EXPECT_FALSE(Run("ListenAddress: 127.0.0.1\n", {}).has_value());
  EXPECT_TRUE(WaitUntil([&] { return ReadAll(Log()).find("listening") != std::string::npos; }));
  EXPECT_EQ(ReadAll(Log()).find("authentication is off"), std::string::npos);
}

TEST_F(StartupTest, WeakOrMissingTokensStopStartUp) {
  std::ofstream(dir_.path() + "/tokens") << "app1 client short\n";
  auto code = Run("ListenAddress: 127.0.0.1\nAuth:\n  Enabled: true\n  TokensFile: " + dir_.path() +
                      "/tokens\n",
                  {});
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(ReadAll(Log()).find("shorter than 16 characters"), std::string::npos) << ReadAll(Log());
}

}  // namespace
}  // namespace lynx::it
