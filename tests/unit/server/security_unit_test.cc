// The security building blocks without a network: the branch-URL policy's rules, token parsing
// and role decisions, redaction and quote cutting, and the configuration keys that carry them.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "server/config.h"
#include "server/security/auth.h"
#include "server/security/redact.h"
#include "server/security/url_policy.h"

namespace lynx::server {
namespace {

UrlPolicy Policy(UrlPolicyConfig c = {}) {
  auto p = UrlPolicy::Make(c);
  EXPECT_TRUE(p.ok()) << p.status().message();
  return *p;
}

bool Accepts(const UrlPolicy& p, const std::string& url, bool grpc = true) {
  return p.CheckUrl("url", url, grpc).ok();
}

TEST(UrlPolicyTest, DefaultAllowsOrdinaryTargetsAndDeniesMetadataRanges) {
  UrlPolicy p = Policy();
  for (const char* ok :
       {"", "http://busi:8080/api/TransOut", "https://10.0.0.5/x?y=1", "http://127.0.0.1:1/a",
        "http://[::1]:80/", "busi:50051/busi.Busi/TransOut", "[::1]:50051/busi.Busi/TransOut",
        "HTTP://Busi.Example.COM/x"}) {
    EXPECT_TRUE(Accepts(p, ok)) << ok;
  }
  for (const char* bad :
       {"http://169.254.169.254/latest", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.1.1]/",
        "169.254.169.254:80/a.B/C", "gopher://x/", "file:///etc/passwd", "ftp://x/",
        "unix:/run/x.sock/a.B/C", "unix-abstract:x/a.B/C", "dns:///x:1/a.B/C",
        "ipv4:1.2.3.4:1/a.B/C", "xds:///svc/a.B/C", "busi/a.B/C", "busi:0/a.B/C",
        "busi:70000/a.B/C", "busi:1", "http://ex ample/"}) {
    auto r = p.CheckUrl("url", bad, true);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("refused by BranchUrlPolicy"), std::string::npos)
          << r.status().message();
    }
  }
  // An http transaction's URLs must carry a scheme.
  EXPECT_FALSE(Accepts(p, "busi:50051/busi.Busi/TransOut", false));
}

TEST(UrlPolicyTest, AllowAndDenyListsOfHostsCidrsAndPorts) {
  UrlPolicyConfig c;
  c.allow_hosts = {"*.svc.internal", "10.1.0.0/16", "payments"};
  c.deny_hosts = {"evil.svc.internal", "10.1.2.0/24"};
  c.allow_ports = {"80", "8000-8999"};
  c.deny_ports = {"8500"};
  UrlPolicy p = Policy(c);
  EXPECT_TRUE(Accepts(p, "http://a.svc.internal:8080/x"));
  EXPECT_TRUE(Accepts(p, "http://payments/x"));
  EXPECT_TRUE(Accepts(p, "http://10.1.7.7:8001/x"));
  EXPECT_FALSE(Accepts(p, "http://evil.svc.internal:8080/x"));  // deny wins
  EXPECT_FALSE(Accepts(p, "http://10.1.2.3:8080/x"));
  EXPECT_FALSE(Accepts(p, "http://10.2.0.1:8080/x"));
  EXPECT_FALSE(Accepts(p, "http://a.svc.internal:9000/x"));  // port not allowed
  EXPECT_FALSE(Accepts(p, "http://a.svc.internal:8500/x"));  // port denied
  // Names not on the list pass the edge only while address rules could admit them; their
  // addresses decide at call time.
  EXPECT_TRUE(Accepts(p, "http://other:8080/x"));
  UrlTarget other{UrlTarget::Kind::kHttp, "other", 8080};
  IpBytes ip;
  ASSERT_TRUE(ParseIp("10.1.9.9", &ip));
  EXPECT_TRUE(p.CheckAddress(other, ip, "10.1.9.9").ok());
  ASSERT_TRUE(ParseIp("10.1.2.9", &ip));
  EXPECT_FALSE(p.CheckAddress(other, ip, "10.1.2.9").ok());
  ASSERT_TRUE(ParseIp("192.168.0.1", &ip));
  EXPECT_FALSE(p.CheckAddress(other, ip, "192.168.0.1").ok());
  // An allowed name is still refused on a denied address.
  UrlTarget named{UrlTarget::Kind::kHttp, "payments", 80};
  ASSERT_TRUE(ParseIp("10.1.2.1", &ip));
  EXPECT_FALSE(p.CheckAddress(named, ip, "10.1.2.1").ok());

  UrlPolicyConfig names_only;
  names_only.allow_hosts = {"payments", "*.svc.internal"};
  EXPECT_FALSE(Accepts(Policy(names_only), "http://other/x"));
  EXPECT_FALSE(Accepts(Policy(names_only), "http://svc.internal/x"));  // *.suffix: not the apex
  EXPECT_TRUE(Accepts(Policy(names_only), "http://a.b.svc.internal/x"));
}

TEST(UrlPolicyTest, UnixTargetsOnlyWhenEnabled) {
  UrlPolicyConfig c;
  c.allow_unix = true;
  EXPECT_TRUE(Accepts(Policy(c), "unix:/run/busi.sock/busi.Busi/TransOut"));
  EXPECT_FALSE(Accepts(Policy(c), "unix:/run/busi.sock/busi.Busi/TransOut", false));
}

TEST(UrlPolicyTest, MalformedEntriesNameTheirKey) {
  for (auto [hosts, ports] :
       {std::pair<std::vector<std::string>, std::vector<std::string>>{{"10.0.0.0/33"}, {}},
        {{"bad host"}, {}},
        {{}, {"0"}},
        {{}, {"9-1"}},
        {{}, {"http"}}}) {
    UrlPolicyConfig c;
    c.allow_hosts = hosts;
    c.deny_ports = ports;
    auto p = UrlPolicy::Make(c);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.status().message().find("BranchUrlPolicy."), std::string::npos)
        << p.status().message();
  }
}

TEST(UrlPolicyTest, LoopbackAddresses) {
  for (const char* a : {"127.0.0.1", "127.1.2.3", "::1", "localhost", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackAddress(a)) << a;
  }
  for (const char* a : {"0.0.0.0", "::", "10.0.0.1", "example.com"}) {
    EXPECT_FALSE(IsLoopbackAddress(a)) << a;
  }
}

// CheckUrl keeps the verdicts of admitted URLs: asking again gives the same target, a refusal
// stays a refusal with its field's name, the gRPC flag is part of the question, and past the
// cache's size (4,096) the answers do not change.
TEST(UrlPolicyTest, RepeatedChecksGiveTheFirstVerdict) {
  UrlPolicyConfig c;
  c.deny_hosts = {"*.internal"};
  UrlPolicy p = Policy(c);
  for (int round = 0; round < 3; ++round) {
    auto t = p.CheckUrl("url", "http://Busi:8080/api/TransOut", false);
    ASSERT_TRUE(t.ok()) << t.status().message();
    EXPECT_EQ(t->kind, UrlTarget::Kind::kHttp);
    EXPECT_EQ(t->host, "busi");
    EXPECT_EQ(t->port, 8080);
    auto refused =
        p.CheckUrl(round == 0 ? "step 1 URL" : "query_prepared", "http://db.internal/x", false);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find(round == 0 ? "step 1 URL" : "query_prepared"),
              std::string::npos)
        << refused.status().message();
    // Admitted as a gRPC target, refused where only http(s) is allowed.
    EXPECT_TRUE(Accepts(p, "busi:50051/pkg.Svc/Method", true));
    EXPECT_FALSE(Accepts(p, "busi:50051/pkg.Svc/Method", false));
  }
  for (int i = 0; i < 5000; ++i) {
    ASSERT_TRUE(Accepts(p, "http://busi:" + std::to_string(1000 + i) + "/a", false)) << i;
  }
  auto again = p.CheckUrl("url", "http://busi:1000/a", false);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->port, 1000);
  EXPECT_FALSE(Accepts(p, "http://db.internal/x", false));
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dtmd-auth-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& text) {
    const std::string path = (dir_ / "tokens").string();
    std::ofstream(path) << text;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(AuthenticatorTest, RolesDecidePerOperation) {
  AuthConfig c;
  c.enabled = true;
  c.tokens_file = Write(
      "# comment\n\napp client 0123456789abcdef-client\nops reader 0123456789abcdef-reader\r\n"
      "root admin 0123456789abcdef-admin\n");
  Authenticator a(c);
  ASSERT_TRUE(a.Load().ok());
  EXPECT_EQ(a.token_count(), 3u);
  auto check = [&](const std::string& token, const std::string& api) {
    return a.Check(token.empty() ? "" : "Bearer " + token, api);
  };
  EXPECT_TRUE(check("0123456789abcdef-client", "submit").allowed());
  EXPECT_EQ(check("0123456789abcdef-client", "submit").name, "app");
  EXPECT_EQ(check("0123456789abcdef-client", "all").outcome, AuthDecision::Outcome::kForbidden);
  EXPECT_TRUE(check("0123456789abcdef-client", "query").allowed());
  EXPECT_TRUE(check("0123456789abcdef-reader", "query").allowed());
  EXPECT_TRUE(check("0123456789abcdef-reader", "attempts").allowed());
  EXPECT_TRUE(check("0123456789abcdef-client", "attempts").allowed());
  EXPECT_TRUE(check("0123456789abcdef-reader", "metrics").allowed());
  EXPECT_EQ(check("0123456789abcdef-reader", "prepare").outcome, AuthDecision::Outcome::kForbidden);
  EXPECT_EQ(check("0123456789abcdef-reader", "forceStop").outcome,
            AuthDecision::Outcome::kForbidden);
  for (const char* api : {"forceStop", "resetCronTime", "subscribe", "topic", "test", "submit"}) {
    EXPECT_TRUE(check("0123456789abcdef-admin", api).allowed()) << api;
  }
  EXPECT_EQ(check("", "submit").outcome, AuthDecision::Outcome::kUnauthenticated);
  EXPECT_EQ(check("0123456789abcdef-wrong", "submit").outcome,
            AuthDecision::Outcome::kUnauthenticated);
  EXPECT_EQ(a.Check("Basic 0123456789abcdef-admin", "submit").outcome,
            AuthDecision::Outcome::kUnauthenticated);
  EXPECT_TRUE(check("", "ping").allowed());
  EXPECT_EQ(check("0123456789abcdef-client", "").outcome, AuthDecision::Outcome::kAllowed);
}

TEST_F(AuthenticatorTest, BadEntriesAreRefusedAndKeepThePreviousTokens) {
  AuthConfig c;
  c.enabled = true;
  c.tokens_file = Write("app client 0123456789abcdef-client\n");
  Authenticator a(c);
  ASSERT_TRUE(a.Load().ok());
  for (const char* bad :
       {"app client short\n", "app boss 0123456789abcdef\n", "app client\n", "a b c d\n",
        "a$b client 0123456789abcdef\n", "a client 0123456789abcdef\nb client 0123456789abcdef\n",
        "# nothing\n"}) {
    Write(bad);
    Status st = a.Load();
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_TRUE(a.Check("Bearer 0123456789abcdef-client", "submit").allowed()) << bad;
  }
}

TEST_F(AuthenticatorTest, TokensFromTheEnvironment) {
  AuthConfig c;
  c.enabled = true;
  c.tokens_env = "DTMD_UNIT_TEST_TOKENS";
  setenv("DTMD_UNIT_TEST_TOKENS", "a client 0123456789abcdef-a;b admin 0123456789abcdef-b", 1);
  Authenticator a(c);
  ASSERT_TRUE(a.Load().ok());
  EXPECT_EQ(a.token_count(), 2u);
  EXPECT_TRUE(a.Check("Bearer 0123456789abcdef-b", "forceStop").allowed());
  unsetenv("DTMD_UNIT_TEST_TOKENS");
  EXPECT_FALSE(a.Load().ok());
}

TEST_F(AuthenticatorTest, OffAllowsEverything) {
  Authenticator a(AuthConfig{});
  EXPECT_TRUE(a.Check("", "forceStop").allowed());
}

TEST(RedactTest, SecretHeadersAndCutQuotes) {
  Redactor r({"Authorization", "x-api-key"});
  auto out = r.Headers({{"authorization", "Bearer s"}, {"X-Api-Key", "k"}, {"X-Trace", "t"}});
  EXPECT_EQ(out["authorization"], kRedacted);
  EXPECT_EQ(out["X-Api-Key"], kRedacted);
  EXPECT_EQ(out["X-Trace"], "t");
  EXPECT_EQ(QuoteLimited("short", 64), "short");
  const std::string cut = QuoteLimited(std::string(100, 'a'), 64);
  EXPECT_EQ(cut.substr(0, 64), std::string(64, 'a'));
  EXPECT_NE(cut.find("100 bytes, cut"), std::string::npos);
  // Never inside a UTF-8 character: "é" is two bytes.
  std::string accents;
  for (int i = 0; i < 40; ++i) accents += "\xC3\xA9";
  const std::string cut_utf8 = QuoteLimited(accents, 63);
  EXPECT_EQ(cut_utf8.substr(0, 62), accents.substr(0, 62));
  EXPECT_EQ(cut_utf8[62], '.');
  Status failure = LimitQuotedMessage(Status::Failure(std::string(1000, 'f') + " FAILURE"), 100);
  EXPECT_TRUE(failure.IsFailure());
  EXPECT_LT(failure.message().size(), 160u);
  EXPECT_EQ(failure.message().substr(failure.message().size() - 8), " FAILURE");
}

TEST(SecurityConfigTest, ListKeysAndRules) {
  ServerConfig c;
  ASSERT_TRUE(LoadConfigText("BranchUrlPolicy:\n  DenyHosts: [\"10.0.0.0/8\", \"evil\"]\n"
                             "  AllowPorts: []\nRedaction:\n  Headers: [Authorization]\n",
                             &c)
                  .ok());
  EXPECT_EQ(c.branch_url_policy.deny_hosts, (std::vector<std::string>{"10.0.0.0/8", "evil"}));
  EXPECT_TRUE(c.branch_url_policy.allow_ports.empty());
  EXPECT_EQ(c.redact_headers, std::vector<std::string>{"Authorization"});
  ServerConfig defaults;
  EXPECT_EQ(defaults.branch_url_policy.deny_hosts,
            (std::vector<std::string>{"169.254.0.0/16", "fd00:ec2::254"}));
  for (const char* bad :
       {"BranchUrlPolicy:\n  DenyHosts: [\"10.0.0.0/99\"]\n", "Auth:\n  Enabled: true\n",
        "HttpCertFile: a.pem\n", "HttpCaFile: ca.pem\n", "EnableTestControl: true\n",
        "Redaction:\n  MaxQuotedReplyBytes: 10\n", "BranchUrlPolicy:\n  DenyHosts: [[1]]\n"}) {
    ServerConfig cfg;
    EXPECT_FALSE(LoadConfigText(bad, &cfg).ok()) << bad;
  }
  ServerConfig loopback;
  EXPECT_TRUE(
      LoadConfigText("EnableTestControl: true\nListenAddress: 127.0.0.1\n", &loopback).ok());
}

}  // namespace
}  // namespace lynx::server
