#include "report.h"

#include <fmt/format.h>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include <algorithm>
#include <cmath>

namespace lynx::bench {

namespace {

double Ms(int64_t ns) { return static_cast<double>(ns) / 1e6; }

// Nearest rank: the smallest sample with at least q of all samples at or below it.
int64_t Percentile(const std::vector<int64_t>& sorted, double q) {
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

std::string Quoted(const std::string& s) { return boost::json::serialize(boost::json::string(s)); }

}  // namespace

void Summarize(std::vector<int64_t>& latency_ns, Report* report) {
  report->count = static_cast<int64_t>(latency_ns.size());
  if (latency_ns.empty()) return;
  std::sort(latency_ns.begin(), latency_ns.end());
  double sum = 0;
  for (int64_t ns : latency_ns) sum += static_cast<double>(ns);
  report->mean_ms = sum / static_cast<double>(latency_ns.size()) / 1e6;
  report->p50_ms = Ms(Percentile(latency_ns, 0.50));
  report->p99_ms = Ms(Percentile(latency_ns, 0.99));
  report->max_ms = Ms(latency_ns.back());
}

std::string ToJson(const Report& r) {
  // Written by hand: fixed decimals read better than Boost.JSON's exponent form (1.5E0).
  std::string out = fmt::format(
      R"({{"mode":{},"concurrency":{},"threads":{},"warmup_s":{:.3f},"window_s":{:.3f},)"
      R"("count":{},"tps":{:.1f},"mean_ms":{:.3f},"p50_ms":{:.3f},"p99_ms":{:.3f},"max_ms":{:.3f},)"
      R"("errors":{},"verified":{},"unverified":{})",
      Quoted(r.mode), r.concurrency, r.threads, r.warmup_s, r.window_s, r.count, r.tps, r.mean_ms,
      r.p50_ms, r.p99_ms, r.max_ms, r.errors, r.verified, r.unverified);
  if (!r.first_error.empty()) out += R"(,"first_error":)" + Quoted(r.first_error);
  if (!r.first_unverified.empty()) out += R"(,"first_unverified":)" + Quoted(r.first_unverified);
  if (r.server_cpu_s) {
    out += fmt::format(R"(,"server_cpu_s":{:.3f},"server_cpu_pct":{:.1f})", *r.server_cpu_s,
                       r.server_cpu_pct.value_or(0));
  }
  if (r.server_end) {
    out += fmt::format(R"(,"server_peak_rss_kb":{},"server_rss_kb":{})", r.server_end->peak_rss_kb,
                       r.server_end->rss_kb);
  }
  return out + "}";
}

std::string ToHuman(const Report& r) {
  std::string out = fmt::format(
      "{:<4} c={:<4} {:>9.1f} tx/s  p50 {:.2f} ms  p99 {:.2f} ms  max {:.2f} ms  count {}  "
      "errors {}  unverified {}/{}",
      r.mode, r.concurrency, r.tps, r.p50_ms, r.p99_ms, r.max_ms, r.count, r.errors, r.unverified,
      r.verified);
  if (r.server_cpu_s) {
    out += fmt::format("  server CPU {:.2f} s ({:.1f}% of a core, {:.3f} ms/tx)", *r.server_cpu_s,
                       r.server_cpu_pct.value_or(0),
                       r.count > 0 ? 1000.0 * *r.server_cpu_s / static_cast<double>(r.count) : 0.0);
  }
  if (r.server_end) {
    out += fmt::format("  peak RSS {:.1f} MiB  RSS {:.1f} MiB",
                       static_cast<double>(r.server_end->peak_rss_kb) / 1024.0,
                       static_cast<double>(r.server_end->rss_kb) / 1024.0);
  }
  if (!r.first_error.empty()) out += "\n  first error: " + r.first_error;
  if (!r.first_unverified.empty()) out += "\n  first unverified: " + r.first_unverified;
  return out;
}

}  // namespace lynx::bench
