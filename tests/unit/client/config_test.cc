// lynx.dtm configuration: defaults, zero means default, and every validation rule of
// lynx-dtm-plugin.md §2 with a message naming the key.
#include <gtest/gtest.h>

#include <lynx/config_node.h>
#include <lynx/dtm/config.h>

namespace lynx::dtm {
namespace {

StatusOr<DtmConfig> Load(const std::string& dtm_yaml) {
  auto root = ConfigNode::FromYaml("lynx:\n  dtm:\n" + dtm_yaml);
  if (!root.ok()) return root.status();
  DtmConfig c;
  Status st = LoadDtmConfig(root->Child("lynx.dtm"), &c);
  if (!st.ok()) return st;
  return c;
}

// The error of loading `dtm_yaml`, "" when it loads.
std::string ErrorOf(const std::string& dtm_yaml) {
  auto c = Load(dtm_yaml);
  return c.ok() ? "" : c.status().message();
}

TEST(DtmConfigTest, DefaultsOfTheContract) {
  DtmConfig c;
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.server_url, "http://localhost:36789/api/dtmsvr");
  EXPECT_EQ(c.grpc_server, "");
  EXPECT_EQ(c.timeout, 10);
  EXPECT_EQ(c.retry_interval, 10);
  EXPECT_EQ(c.transaction_timeout, 60);
  EXPECT_EQ(c.branch_timeout, 30);
  EXPECT_TRUE(c.pass_through_headers.empty());
  EXPECT_FALSE(c.grpc_tls_enabled);
  EXPECT_EQ(c.grpc_cert_file, "");
  EXPECT_EQ(c.grpc_key_file, "");
  EXPECT_EQ(c.grpc_ca_file, "");
  EXPECT_EQ(c.max_connection_retries, 3);
  EXPECT_TRUE(ValidateDtmConfig(c).ok());
}

TEST(DtmConfigTest, LoadsEveryKey) {
  auto c = Load(
      "    enabled: true\n"
      "    server_url: https://dtm.example:8443/api/dtmsvr\n"
      "    grpc_server: dtm.example:36790\n"
      "    timeout: 5\n"
      "    retry_interval: 15\n"
      "    transaction_timeout: 120\n"
      "    branch_timeout: 7\n"
      "    pass_through_headers: [X-Request-Id, Authorization]\n"
      "    grpc_tls_enabled: true\n"
      "    grpc_cert_file: /c.pem\n"
      "    grpc_key_file: /k.pem\n"
      "    grpc_ca_file: /ca.pem\n"
      "    max_connection_retries: 5\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->enabled);
  EXPECT_EQ(c->server_url, "https://dtm.example:8443/api/dtmsvr");
  EXPECT_EQ(c->grpc_server, "dtm.example:36790");
  EXPECT_EQ(c->timeout, 5);
  EXPECT_EQ(c->retry_interval, 15);
  EXPECT_EQ(c->transaction_timeout, 120);
  EXPECT_EQ(c->branch_timeout, 7);
  EXPECT_EQ(c->pass_through_headers, (std::vector<std::string>{"X-Request-Id", "Authorization"}));
  EXPECT_TRUE(c->grpc_tls_enabled);
  EXPECT_EQ(c->grpc_cert_file, "/c.pem");
  EXPECT_EQ(c->grpc_key_file, "/k.pem");
  EXPECT_EQ(c->grpc_ca_file, "/ca.pem");
  EXPECT_EQ(c->max_connection_retries, 5);
}

TEST(DtmConfigTest, AbsentKeysKeepDefaultsAndZeroMeansDefault) {
  auto c = Load(
      "    enabled: true\n"
      "    timeout: 0\n"
      "    retry_interval: 0\n"
      "    transaction_timeout: 0\n"
      "    branch_timeout: 0\n"
      "    max_connection_retries: 0\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->server_url, kDefaultServerUrl);
  EXPECT_EQ(c->timeout, 10);
  EXPECT_EQ(c->retry_interval, 10);
  EXPECT_EQ(c->transaction_timeout, 60);
  EXPECT_EQ(c->branch_timeout, 30);
  EXPECT_EQ(c->max_connection_retries, 3);
}

TEST(DtmConfigTest, EmptyNodeIsTheDefaultConfiguration) {
  auto root = ConfigNode::FromYaml("lynx:\n  dtm: {}\n");
  ASSERT_TRUE(root.ok());
  DtmConfig c;
  c.timeout = 99;
  ASSERT_TRUE(LoadDtmConfig(root->Child("lynx.dtm"), &c).ok());
  EXPECT_EQ(c.timeout, 10);
  EXPECT_FALSE(c.enabled);
}

TEST(DtmConfigTest, ServerUrlRequiredWhenEnabled) {
  EXPECT_EQ(ErrorOf("    enabled: true\n    server_url: ''\n"),
            "lynx.dtm.server_url is required when enabled");
  // Disabled: not checked.
  EXPECT_EQ(ErrorOf("    enabled: false\n    server_url: ''\n"), "");
}

TEST(DtmConfigTest, ServerUrlSchemeMustBeHttpOrHttps) {
  EXPECT_EQ(ErrorOf("    enabled: true\n    server_url: ftp://dtm:21/api\n"),
            "lynx.dtm.server_url must use the http or https scheme: 'ftp://dtm:21/api'");
  EXPECT_EQ(ErrorOf("    enabled: true\n    server_url: localhost:36789/api/dtmsvr\n"),
            "lynx.dtm.server_url must use the http or https scheme: 'localhost:36789/api/dtmsvr'");
  EXPECT_EQ(ErrorOf("    enabled: true\n    server_url: http:///api\n"),
            "lynx.dtm.server_url has no host: 'http:///api'");
  EXPECT_EQ(ErrorOf("    enabled: true\n    server_url: HTTPS://dtm/api\n"), "");
  EXPECT_EQ(ErrorOf("    enabled: false\n    server_url: ftp://x\n"), "");
}

TEST(DtmConfigTest, NegativeValuesAreRejectedPerKey) {
  for (const char* key : {"timeout", "retry_interval", "transaction_timeout", "branch_timeout",
                          "max_connection_retries"}) {
    EXPECT_EQ(ErrorOf(std::string("    ") + key + ": -1\n"),
              std::string("lynx.dtm.") + key + " cannot be negative (got -1)")
        << key;
  }
}

TEST(DtmConfigTest, TlsNeedsCertAndKey) {
  EXPECT_EQ(ErrorOf("    grpc_tls_enabled: true\n    grpc_key_file: /k.pem\n"),
            "lynx.dtm.grpc_cert_file is required when grpc_tls_enabled is true");
  EXPECT_EQ(ErrorOf("    grpc_tls_enabled: true\n    grpc_cert_file: /c.pem\n"),
            "lynx.dtm.grpc_key_file is required when grpc_tls_enabled is true");
  EXPECT_EQ(ErrorOf("    grpc_tls_enabled: true\n    grpc_cert_file: /c\n    grpc_key_file: /k\n"),
            "");
}

TEST(DtmConfigTest, WrongTypesNameTheKey) {
  std::string err = ErrorOf("    timeout: ten\n");
  EXPECT_NE(err.find("lynx.dtm.timeout"), std::string::npos) << err;
  err = ErrorOf("    enabled: maybe\n");
  EXPECT_NE(err.find("lynx.dtm.enabled"), std::string::npos) << err;
  err = ErrorOf("    pass_through_headers: {a: b}\n");
  EXPECT_NE(err.find("lynx.dtm.pass_through_headers"), std::string::npos) << err;
}

TEST(DtmConfigTest, UnknownKeysAreIgnored) { EXPECT_EQ(ErrorOf("    server_ur: x\n"), ""); }

TEST(DtmConfigTest, ValidateUsesTheGivenPrefix) {
  DtmConfig c;
  c.timeout = -5;
  EXPECT_EQ(ValidateDtmConfig(c, "app.dtm").message(),
            "app.dtm.timeout cannot be negative (got -5)");
}

}  // namespace
}  // namespace lynx::dtm
