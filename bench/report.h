// The load generator's result: one JSON line (--json, read by bench/compare.sh and smoke.sh) or
// one human line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proc_stats.h"

namespace lynx::bench {

struct Report {
  std::string mode;
  int concurrency = 0;
  int threads = 0;
  double warmup_s = 0;
  double window_s = 0;  // the measured window: tps = count / window_s
  int64_t count = 0;    // transactions that finished 200 inside the window
  double tps = 0;
  double mean_ms = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
  int64_t errors = 0;  // over the whole run, warm-up included
  std::string first_error;
  int64_t verified = 0;    // counted gids queried after the run
  int64_t unverified = 0;  // of those, not "succeed"
  std::string first_unverified;
  // The DTM server over the window (--server-pid): CPU time and its share of one core, and its
  // memory at the end.
  std::optional<double> server_cpu_s;
  std::optional<double> server_cpu_pct;
  std::optional<ProcSample> server_end;
};

// Sorts `latency_ns` and fills count, mean, p50, p99 (nearest rank) and max.
void Summarize(std::vector<int64_t>& latency_ns, Report* report);

std::string ToJson(const Report& report);
std::string ToHuman(const Report& report);

}  // namespace lynx::bench
