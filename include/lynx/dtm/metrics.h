// ClientMetrics: the DTM client's Prometheus metrics (names as the Go plugin's), rendered in the
// Prometheus text exposition format by Serialize().
//   const lynx::dtm::ClientMetrics& m = dtm.Metrics();
//   std::string text = m.Serialize();  // serve it on /metrics
// Metrics:
//   lynx_dtm_transactions_total{type,status}            counter (type saga|tcc|xa|msg,
//                                                        status success|failure)
//   lynx_dtm_active_transactions                        gauge
//   lynx_dtm_transaction_duration_seconds{type,status}  histogram
//   lynx_dtm_barrier_operations_total                   counter
//   lynx_dtm_health_check_total{status}                 counter (status ok|fail)
//   lynx_dtm_gid_requests_total{status}                 counter (status ok|fail)
// Thread-safe. Recording is const: it changes only the counters, not the client.
#pragma once

#include <memory>
#include <string>

namespace lynx::dtm {

class ClientMetrics {
 public:
  ClientMetrics();
  ~ClientMetrics();
  ClientMetrics(const ClientMetrics&) = delete;
  ClientMetrics& operator=(const ClientMetrics&) = delete;

  // A transaction of `type` started / ended (the active gauge goes up / down).
  void TransactionStarted() const;
  void TransactionFinished(const std::string& type, bool success, double duration_seconds) const;
  void RecordBarrierOperation() const;
  void RecordHealthCheck(bool ok) const;
  void RecordGidRequest(bool ok) const;

  // The Prometheus text exposition (format 0.0.4) of every metric.
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lynx::dtm
