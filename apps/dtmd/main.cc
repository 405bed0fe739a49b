// dtmd: a DTM-compatible distributed transaction manager.
#include <malloc.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>

#include "common/log.h"
#include "server/config.h"
#include "server/server.h"

namespace {

constexpr const char* kVersion = "dtmd 0.1.0 (DTM v1.19 wire-compatible)";

std::string KeysHelp() {
  std::string out =
      "\nConfiguration keys (YAML, DTM names; every key also reads an env variable, e.g.\n"
      "Store.Driver -> STORE_DRIVER; YAML wins over env):\n";
  for (const auto& k : lynx::server::KnownConfigKeys()) {
    out += "  " + k + "  (" + lynx::server::EnvNameOf(k) + ")\n";
  }
  return out;
}

// Every connection, inbound or outbound, and every store file is a descriptor: the default soft
// limit (often 1024) runs out long before memory does. The hard limit is the administrator's.
void RaiseDescriptorLimit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
  const rlim_t before = lim.rlim_cur;
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) == 0) {
    spdlog::debug("descriptor limit raised from {} to {}", before, lim.rlim_cur);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "dtmd: distributed transactions (SAGA, TCC, 2-phase message, XA) on the DTM protocol"};
  app.footer(KeysHelp());
  std::string config_file;
  bool debug = false, version = false, reset = false;
  int64_t http_port = -1, grpc_port = -1;
  std::string port_file, data_dir, store_driver;
  bool test_control = false, no_cron = false;
  app.add_option("-c,--config", config_file, "YAML configuration file (DTM's conf.yml keys)");
  app.add_flag("-d,--debug", debug, "debug logging");
  app.add_flag("-v,--version", version, "print the version and exit");
  app.add_flag("-r,--reset", reset, "create the store schema and exit");
  app.add_option("--http-port", http_port, "override HttpPort (0 = any free port)");
  app.add_option("--grpc-port", grpc_port, "override GrpcPort (0 = any free port)");
  app.add_option(
      "--port-file", port_file,
      "once listening, write the bound HTTP port and gRPC port (two lines) to this file");
  app.add_option("--data-dir", data_dir, "override Store.DataDir (embedded store directory)");
  app.add_option("--store", store_driver,
                 "override Store.Driver (boltdb/embedded, memory, postgres, mysql, redis)");
  app.add_flag("--enable-test-control", test_control,
               "TESTS ONLY: serve /api/test/* (time shift, one cron pass)");
  app.add_flag("--disable-cron", no_cron, "TESTS ONLY: no background cron loop");
  CLI11_PARSE(app, argc, argv);

  if (version) {
    std::cout << kVersion << "\n";
    return 0;
  }
  lynx::server::ServerConfig cfg;
  lynx::Status st = lynx::server::LoadConfig(config_file, &cfg);
  if (st.ok()) {
    if (http_port >= 0) cfg.http_port = http_port;
    if (grpc_port >= 0) cfg.grpc_port = grpc_port;
    if (!data_dir.empty()) cfg.store.data_dir = data_dir;
    if (!store_driver.empty()) cfg.store.driver = store_driver;
    if (test_control) cfg.enable_test_control = true;
    if (no_cron) cfg.cron_enabled = false;
    st = lynx::server::ValidateConfig(cfg);
  }
  if (!st.ok()) {
    std::fprintf(stderr, "dtmd: %s\n", st.message().c_str());
    return 2;
  }
  if (!cfg.time_zone_offset.empty()) {
    // DTM's TimeZoneOffset ("+8"): the process-local zone used for stored and shown times.
    // POSIX TZ offsets have the opposite sign.
    int hours = std::atoi(cfg.time_zone_offset.c_str());
    std::string tz = "UTC" + std::to_string(-hours);
    setenv("TZ", tz.c_str(), 1);
    tzset();
  }
  st = lynx::log::Configure(cfg.log_format, debug ? "debug" : cfg.log_level, cfg.log_levels);
  if (!st.ok()) {
    std::fprintf(stderr, "dtmd: %s\n", st.message().c_str());
    return 2;
  }

  if (reset) {
    st = lynx::server::PopulateStore(cfg);
    if (!st.ok()) {
      std::fprintf(stderr, "dtmd: %s\n", st.message().c_str());
      return 1;
    }
    std::cout << "schema ready (" << cfg.store.driver << ")\n";
    return 0;
  }
  RaiseDescriptorLimit();
  // A burst of big requests (large payloads, /query replies of large transactions) must not
  // leave the process at its peak size for good: buffers of 1 MiB and more are mapped and
  // unmapped on their own, and free memory above 512 KiB at the top of glibc's per-thread arenas
  // goes back to the system. With glibc's defaults (its thresholds grow after the first big free)
  // 40 concurrent reads of an 8 MB transaction left 16 arenas at about 25 MB each.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 10);
  lynx::server::Server server(cfg);
  st = server.Start();
  if (!st.ok()) {
    std::fprintf(stderr, "dtmd: cannot start: %s\n", st.message().c_str());
    return 1;
  }
  if (!port_file.empty()) {
    std::string tmp = port_file + ".tmp";
    std::ofstream(tmp) << server.http_port() << "\n" << server.grpc_port() << "\n";
    std::rename(tmp.c_str(), port_file.c_str());  // readers never see a partial file
  }
  server.Wait();
  return 0;
}
