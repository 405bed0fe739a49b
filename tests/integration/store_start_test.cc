// Start-up against a store server that is not there (yet): dtmd retries every 3 s like DTM, gives
// up after Store.StartWait with an error naming the store, and serves as soon as the store comes
// up when it waits forever (StartWait 0, DTM's behaviour).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "harness.h"

namespace lynx::it {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A program from PATH or the usual system directories ("" when absent).
std::string FindProgram(const std::string& name) {
  std::string dirs = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "";
  dirs += ":/usr/sbin:/usr/bin:/usr/local/bin";
  std::stringstream ss(dirs);
  for (std::string d; std::getline(ss, d, ':');) {
    const std::string path = d + "/" + name;
    if (!d.empty() && ::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

class StoreStartTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("dtmd-start");
    ASSERT_FALSE(dir_->path().empty());
  }
  // Starts dtmd with `store_yaml` under Store:, not waiting for it to serve.
  void Launch(const std::string& store_yaml) {
    std::ofstream(cfg()) << "ListenAddress: 127.0.0.1\nStore:\n" << store_yaml;
    std::string err;
    ASSERT_TRUE(dtmd_.Start({LYNX_DTMD_PATH, "-c", cfg(), "--http-port", "0", "--grpc-port", "0",
                             "--port-file", port_file(), "--disable-cron"},
                            log(), &err))
        << err;
  }
  std::string cfg() const { return dir_->path() + "/dtmd.yml"; }
  std::string log() const { return dir_->path() + "/dtmd.log"; }
  std::string port_file() const { return dir_->path() + "/dtmd.port"; }

  std::unique_ptr<TempDir> dir_;
  ChildProcess dtmd_;
};

TEST_F(StoreStartTest, UnreachableStoreFailsAfterStartWait) {
  LYNX_DTMD_ONLY("dtmd start-up");
  const uint16_t port = UnusedPort();
  Launch("  Driver: postgres\n  Host: 127.0.0.1\n  Port: " + std::to_string(port) +
         "\n  User: postgres\n  StartWait: 1\n");
  ASSERT_TRUE(WaitUntil([&] { return !dtmd_.Alive(); }, std::chrono::seconds(20)))
      << ReadFile(log());
  const std::string out = ReadFile(log());
  EXPECT_NE(out.find("not reachable (attempt 1)"), std::string::npos) << out;
  EXPECT_NE(out.find("cannot start"), std::string::npos) << out;
  EXPECT_NE(out.find("port " + std::to_string(port)), std::string::npos) << out;
  EXPECT_NE(out.find("StartWait 1 s"), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(port_file()));
}

TEST_F(StoreStartTest, WaitsForAStoreThatComesUpLater) {
  LYNX_DTMD_ONLY("dtmd start-up");
  const uint16_t port = UnusedPort();
  Launch("  Driver: redis\n  Host: 127.0.0.1\n  Port: " + std::to_string(port) + "\n");
  // dtmd is up, retrying, not serving.
  ASSERT_TRUE(WaitUntil([&] { return ReadFile(log()).find("attempt 1") != std::string::npos; },
                        std::chrono::seconds(20)))
      << ReadFile(log());
  EXPECT_TRUE(dtmd_.Alive());
  EXPECT_FALSE(std::filesystem::exists(port_file()));
  // Now the store appears: a private Redis on that port.
  const std::string redis_server = FindProgram("redis-server");
  ASSERT_FALSE(redis_server.empty()) << "redis-server is not installed (scripts/setup-deps.sh)";
  ChildProcess redis;
  std::string err;
  ASSERT_TRUE(redis.Start({redis_server, "--port", std::to_string(port), "--bind", "127.0.0.1",
                           "--save", "", "--appendonly", "no", "--dir", dir_->path()},
                          dir_->path() + "/redis.log", &err))
      << err;
  ASSERT_TRUE(
      WaitUntil([&] { return std::filesystem::exists(port_file()); }, std::chrono::seconds(30)))
      << ReadFile(log());
  std::ifstream in(port_file());
  uint16_t http_port = 0;
  in >> http_port;
  auto gid = Http(http_port, "GET", "/api/dtmsvr/newGid");
  EXPECT_EQ(gid.status, 200) << gid.body;
  EXPECT_NE(ReadFile(log()).find("store redis"), std::string::npos);
}

}  // namespace
}  // namespace lynx::it
