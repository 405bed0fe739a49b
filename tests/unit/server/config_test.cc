// Configuration: DTM's keys, env names, precedence (env first, YAML wins) and validation messages
// (dtm-protocol.md §10, §13.9).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "server/config.h"

namespace lynx::server {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("dtmd-config-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    for (const char* e : {"HTTP_PORT", "STORE_DRIVER", "RETRY_INTERVAL", "STORE_REDIS_LAYOUT"})
      unsetenv(e);
    std::filesystem::remove_all(dir_);
  }
  std::string Yaml(const std::string& text) {
    auto p = dir_ / "conf.yml";
    std::ofstream(p) << text;
    return p.string();
  }
  std::filesystem::path dir_;
};

TEST_F(ConfigTest, EnvNamesFollowDtm) {
  EXPECT_EQ(EnvNameOf("Store.Driver"), "STORE_DRIVER");
  EXPECT_EQ(EnvNameOf("MicroService.EndPoint"), "MICRO_SERVICE_END_POINT");
  EXPECT_EQ(EnvNameOf("MicroService_Driver"), "MICRO_SERVICE_DRIVER");
  EXPECT_EQ(EnvNameOf("HttpPort"), "HTTP_PORT");
  EXPECT_EQ(EnvNameOf("Store.RedisPrefix"), "STORE_REDIS_PREFIX");
  EXPECT_EQ(EnvNameOf("Log.RotationConfigJSON"), "LOG_ROTATION_CONFIG_JSON");
}

TEST_F(ConfigTest, DefaultsAreDtms) {
  ServerConfig c;
  ASSERT_TRUE(LoadConfig("", &c).ok());
  EXPECT_EQ(c.http_port, 36789);
  EXPECT_EQ(c.retry_interval, 10);
  EXPECT_EQ(c.timeout_to_fail, 35);
  EXPECT_EQ(c.request_timeout, 3);
  EXPECT_EQ(c.update_branch_sync, 1);
  EXPECT_EQ(c.store.driver, "boltdb");
}

TEST_F(ConfigTest, EnvIsReadAndYamlWins) {
  setenv("HTTP_PORT", "1234", 1);
  setenv("RETRY_INTERVAL", "20", 1);
  ServerConfig c;
  ASSERT_TRUE(LoadConfig(Yaml("HttpPort: 5678\nStore:\n  Driver: memory\n"), &c).ok());
  EXPECT_EQ(c.http_port, 5678);
  EXPECT_EQ(c.retry_interval, 20);
  EXPECT_EQ(c.store.driver, "memory");
}

TEST_F(ConfigTest, PostgresStoreIsAccepted) {
  ServerConfig c;
  Status st =
      LoadConfig(Yaml("Store:\n  Driver: postgres\n  Host: db\n  Port: 5432\n  User: dtm\n"), &c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.store.driver, "postgres");
  EXPECT_EQ(c.store.db, "dtm");  // DTM's defaults
  EXPECT_EQ(c.store.schema, "public");
}

TEST_F(ConfigTest, RedisLayoutDefaultsToDtmsAndTakesCompact) {
  ServerConfig c;
  ASSERT_TRUE(LoadConfig(Yaml("Store:\n  Driver: redis\n  Host: r\n  Port: 6379\n"), &c).ok());
  EXPECT_EQ(c.store.redis_layout, "dtm");
  setenv("STORE_REDIS_LAYOUT", "compact", 1);
  ServerConfig from_env;
  Status st = LoadConfig(Yaml("Store:\n  Driver: redis\n  Host: r\n  Port: 6379\n"), &from_env);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(from_env.store.redis_layout, "compact");
}

TEST_F(ConfigTest, MysqlStoreIsAccepted) {
  ServerConfig c;
  Status st =
      LoadConfig(Yaml("Store:\n  Driver: mysql\n  Host: db\n  Port: 3306\n  User: dtm\n"), &c);
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(c.store.driver, "mysql");
  EXPECT_EQ(c.store.db, "dtm");  // DTM's default
}

TEST_F(ConfigTest, ErrorsNameTheKey) {
  struct Case {
    std::string yaml;
    std::string message;
  } cases[] = {
      {"RetryInterval: 5\n", "config key RetryInterval: should not be less than 10"},
      {"TimeoutToFail: 5\n", "config key TimeoutToFail: should not be less than RetryInterval"},
      {"HttpPort: abc\n", "config key HttpPort: 'abc' is not an integer"},
      {"Store:\n  Driver: oracle\n", "config key Store.Driver: unknown driver 'oracle'"},
      {"Storee: 1\n", "unknown key Storee"},
      {"LogLevel: loud\n", "config key LogLevel"},
      {"Store:\n  Fsync: maybe\n", "config key Store.Fsync: 'maybe' is not a boolean"},
      {"Store:\n  RedisLayout: json\n",
       "config key Store.RedisLayout: 'json' is not one of dtm, compact"},
      {"TimeZoneOffset: abc\n", "config key TimeZoneOffset"},
      {"GrpcPort: 70000\n", "config key GrpcPort: not a valid port"},
      {"GrpcCertFile: /c.pem\n", "config key GrpcCertFile/GrpcKeyFile: set both or neither"},
      {"GrpcCaFile: /ca.pem\n", "config key GrpcCaFile: needs GrpcCertFile"},
      {"Store:\n  Driver: mysql\n  Port: 3306\n  User: u\n",
       "config key Store.Host: Db host not valid"},
      {"Store:\n  Driver: mysql\n  Host: h\n  User: u\n",
       "config key Store.Port: Db port not valid"},
      {"Store:\n  Driver: mysql\n  Host: h\n  Port: 3306\n",
       "config key Store.User: Db user not valid"},
      {"Store:\n  Driver: redis\n  Port: 6379\n", "config key Store.Host: Redis host not valid"},
      {"Store:\n  Driver: redis\n  Host: a:1,b:2\n  Port: 6379\n", "Redis Cluster host lists"},
      {"Store:\n  Driver: redis\n  Host: h\n", "config key Store.Port: Redis port not valid"},
      {"Store:\n  Driver: postgres\n  Port: 5432\n  User: u\n", "config key Store.Host"},
      {"Store:\n  Driver: postgres\n  Host: h\n  User: u\n", "config key Store.Port"},
      {"Store:\n  Driver: postgres\n  Host: h\n  Port: 5432\n", "config key Store.User"},
      {"Log:\n  Format: xml\n", "config key Log.Format"},
      {"Log:\n  Levels: engine=loud\n", "config key Log.Levels: 'engine=loud'"},
      {"Log:\n  Levels: nosuch=debug\n", "config key Log.Levels: 'nosuch=debug'"},
      {"Attempts:\n  KeepPerBranch: -1\n", "config key Attempts.KeepPerBranch"},
      {"Attempts:\n  QueueCapacity: 0\n", "config key Attempts.QueueCapacity"},
  };
  for (const auto& k : cases) {
    ServerConfig c;
    Status st = LoadConfig(Yaml(k.yaml), &c);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << k.yaml;
    EXPECT_NE(st.message().find(k.message), std::string::npos) << st.message();
  }
}

TEST_F(ConfigTest, BadEnvValueIsReported) {
  setenv("HTTP_PORT", "x", 1);
  ServerConfig c;
  Status st = LoadConfig("", &c);
  EXPECT_NE(st.message().find("from env HTTP_PORT"), std::string::npos) << st.message();
}

TEST_F(ConfigTest, MissingOrMalformedFileIsAnError) {
  ServerConfig c;
  EXPECT_FALSE(LoadConfig((dir_ / "absent.yml").string(), &c).ok());
  EXPECT_FALSE(LoadConfig(Yaml("HttpPort: [1, 2\n"), &c).ok());
  EXPECT_FALSE(LoadConfig(Yaml("- a\n- b\n"), &c).ok());
}

}  // namespace
}  // namespace lynx::server
