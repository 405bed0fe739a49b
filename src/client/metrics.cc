#include <lynx/dtm/metrics.h>

#include <array>
#include <charconv>
#include <cstdint>
#include <map>
#include <mutex>
#include <sstream>
#include <utility>

namespace lynx::dtm {

namespace {

// Prometheus' default histogram buckets.
constexpr std::array<double, 11> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,    2.5,   5,    10};

struct Histogram {
  std::array<uint64_t, kBuckets.size()> buckets = {};  // cumulative counts
  uint64_t count = 0;
  double sum = 0;
};

// The shortest text that reads back as `v` (0.025, not 0.025000000000000001).
std::string FormatDouble(double v) {
  std::array<char, 32> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  return ec == std::errc() ? std::string(buf.data(), end) : std::to_string(v);
}

// Label values here are our own fixed words; escaping covers anything else all the same.
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Header(std::ostringstream& out, const char* name, const char* help, const char* type) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

}  // namespace

struct ClientMetrics::Impl {
  mutable std::mutex mu;
  std::map<std::pair<std::string, std::string>, uint64_t> transactions;  // (type, status)
  int64_t active = 0;
  std::map<std::pair<std::string, std::string>, Histogram> durations;
  uint64_t barrier_operations = 0;
  std::map<std::string, uint64_t> health_checks;  // status
  std::map<std::string, uint64_t> gid_requests;   // status
};

ClientMetrics::ClientMetrics() : impl_(std::make_unique<Impl>()) {}

ClientMetrics::~ClientMetrics() = default;

void ClientMetrics::TransactionStarted() const {
  std::lock_guard lock(impl_->mu);
  ++impl_->active;
}

void ClientMetrics::TransactionFinished(const std::string& type, bool success,
                                        double duration_seconds) const {
  const std::pair<std::string, std::string> key{type, success ? "success" : "failure"};
  std::lock_guard lock(impl_->mu);
  --impl_->active;
  ++impl_->transactions[key];
  Histogram& h = impl_->durations[key];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (duration_seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += duration_seconds;
}

void ClientMetrics::RecordBarrierOperation() const {
  std::lock_guard lock(impl_->mu);
  ++impl_->barrier_operations;
}

void ClientMetrics::RecordHealthCheck(bool ok) const {
  std::lock_guard lock(impl_->mu);
  ++impl_->health_checks[ok ? "ok" : "fail"];
}

void ClientMetrics::RecordGidRequest(bool ok) const {
  std::lock_guard lock(impl_->mu);
  ++impl_->gid_requests[ok ? "ok" : "fail"];
}

std::string ClientMetrics::Serialize() const {
  std::lock_guard lock(impl_->mu);
  std::ostringstream out;
  Header(out, "lynx_dtm_transactions_total", "Total number of DTM transactions", "counter");
  for (const auto& [key, n] : impl_->transactions) {
    out << "lynx_dtm_transactions_total{type=\"" << Escape(key.first) << "\",status=\""
        << Escape(key.second) << "\"} " << n << '\n';
  }
  Header(out, "lynx_dtm_active_transactions", "Number of DTM transactions in progress", "gauge");
  out << "lynx_dtm_active_transactions " << impl_->active << '\n';
  Header(out, "lynx_dtm_transaction_duration_seconds", "Duration of DTM transactions in seconds",
         "histogram");
  for (const auto& [key, h] : impl_->durations) {
    const std::string labels =
        "type=\"" + Escape(key.first) + "\",status=\"" + Escape(key.second) + "\"";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out << "lynx_dtm_transaction_duration_seconds_bucket{" << labels << ",le=\""
          << FormatDouble(kBuckets[i]) << "\"} " << h.buckets[i] << '\n';
    }
    out << "lynx_dtm_transaction_duration_seconds_bucket{" << labels << ",le=\"+Inf\"} " << h.count
        << '\n';
    out << "lynx_dtm_transaction_duration_seconds_sum{" << labels << "} " << FormatDouble(h.sum)
        << '\n';
    out << "lynx_dtm_transaction_duration_seconds_count{" << labels << "} " << h.count << '\n';
  }
  Header(out, "lynx_dtm_barrier_operations_total", "Total number of DTM barrier operations",
         "counter");
  out << "lynx_dtm_barrier_operations_total " << impl_->barrier_operations << '\n';
  Header(out, "lynx_dtm_health_check_total", "Total number of DTM health checks", "counter");
  for (const auto& [status, n] : impl_->health_checks) {
    out << "lynx_dtm_health_check_total{status=\"" << Escape(status) << "\"} " << n << '\n';
  }
  Header(out, "lynx_dtm_gid_requests_total", "Total number of DTM gid requests", "counter");
  for (const auto& [status, n] : impl_->gid_requests) {
    out << "lynx_dtm_gid_requests_total{status=\"" << Escape(status) << "\"} " << n << '\n';
  }
  return out.str();
}

}  // namespace lynx::dtm
