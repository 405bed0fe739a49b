// The real database servers the tests use: scripts/test.sh starts PostgreSQL, MariaDB and Redis on
// free loopback ports (scripts/lib/databases.sh) and exports their ports. A test for a server that
// was not started is skipped — unless LYNX_TEST_REQUIRE_DBS=1 (set by scripts/test.sh), where
// a missing server is a failure, so CI cannot pass by skipping.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <random>
#include <string>

#include <lynx/dtm/sql.h>

namespace lynx::testing_dbs {

inline std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

inline bool RequireDbs() { return Env("LYNX_TEST_REQUIRE_DBS") == "1"; }

inline std::string Host() {
  std::string h = Env("LYNX_TEST_DB_HOST");
  return h.empty() ? "127.0.0.1" : h;
}

// The DBConf of the server for `driver` ("postgres" or "mysql"), or nullopt when not started.
inline std::optional<dtm::DBConf> ServerConf(const std::string& driver) {
  if (driver == "postgres") {
    std::string port = Env("LYNX_TEST_PG_PORT");
    if (port.empty()) return std::nullopt;
    return dtm::DBConf{.driver = "postgres",
                       .host = Host(),
                       .port = std::stoll(port),
                       .user = "postgres",
                       .password = "",
                       .db = "postgres",
                       .schema = ""};
  }
  if (driver == "mysql") {
    std::string port = Env("LYNX_TEST_MYSQL_PORT");
    if (port.empty()) return std::nullopt;
    return dtm::DBConf{.driver = "mysql",
                       .host = Host(),
                       .port = std::stoll(port),
                       .user = "lynx",
                       .password = "",
                       .db = "",
                       .schema = ""};
  }
  return std::nullopt;
}

inline std::optional<int> RedisPort() {
  std::string port = Env("LYNX_TEST_REDIS_PORT");
  if (port.empty()) return std::nullopt;
  return std::stoi(port);
}

// True when scripts/lib/databases.sh started `server` ("postgres", "mysql" or "redis").
inline bool Started(const std::string& server) {
  return server == "redis" ? RedisPort().has_value() : ServerConf(server).has_value();
}

// A fresh suffix for gids and keys, so tests sharing one server never see each other's rows.
inline std::string UniqueSuffix() {
  static std::mt19937_64 rng(std::random_device{}());
  return std::to_string(rng() % 1000000000000ULL);
}

}  // namespace lynx::testing_dbs

// Skips (or, under LYNX_TEST_REQUIRE_DBS=1, fails) the current test when `what` is not running.
#define LYNX_REQUIRE_SERVER(available, what)                                                   \
  do {                                                                                         \
    if (!(available)) {                                                                        \
      if (::lynx::testing_dbs::RequireDbs()) FAIL() << what << " is required but not started"; \
      GTEST_SKIP() << what << " not started (run through scripts/test.sh)";                    \
    }                                                                                          \
  } while (0)
