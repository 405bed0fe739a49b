// Server metrics with DTM's names (dtm-protocol.md §11), served as Prometheus text on
// GET /api/metrics. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace lynx::server {

class Metrics {
 public:
  Metrics();
  ~Metrics();
  // dtm_server_process_total{type,api,status} and dtm_server_response_duration{type,api}.
  void ObserveApi(const std::string& type, const std::string& api, bool ok, double seconds);
  // dtm_transaction_process_total{model,status} and dtm_transaction_handled_duration{model}.
  void ObserveTransaction(const std::string& model, bool ok, double seconds_since_create);
  // dtm_branch_process_total{model,branchid,branchtype,status}.
  void ObserveBranch(const std::string& model, const std::string& branch_id, const std::string& op,
                     bool ok);
  // dtmd_purged_transactions_total (retention).
  void ObservePurged(int64_t n);
  // dtmd_batched_branch_rows_total{result=written|dropped} (UpdateBranchSync 0).
  void ObserveBatchedBranches(int64_t rows, bool written);
  // dtmd_attempt_rows_total{result=written|dropped|overflow} (attempt history; overflow: the
  // queue was full).
  void ObserveAttempts(int64_t rows, const std::string& result);
  // dtmd_spans_total{result=exported|failed|overflow} (span_exporter.h).
  void ObserveSpans(int64_t spans, const std::string& result);
  // dtmd_transactions_in_flight: transaction passes running now, counted by the passes (+1 at
  // the start, -1 at the end) in this shared counter: a pass whose coroutine is destroyed at
  // shutdown, after the Metrics, still decrements it safely. Read at Serialize.
  std::shared_ptr<std::atomic<int64_t>> InFlightCounter() const;
  // dtmd_cron_lag_seconds: how long the cron has found due transactions at every lease without a
  // break (0 once a lease finds nothing due): a cron falling behind shows as a growing value.
  void SetCronLag(double seconds);
  std::string Serialize() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lynx::server
