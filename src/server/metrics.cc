#include "server/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace lynx::server {

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Gauge>& info = prometheus::BuildGauge()
                                                    .Name("dtm_server_info")
                                                    .Help("The information of this dtm server.")
                                                    .Register(*registry);
  prometheus::Family<prometheus::Counter>& process = prometheus::BuildCounter()
                                                         .Name("dtm_server_process_total")
                                                         .Help("All request received by dtm")
                                                         .Register(*registry);
  prometheus::Family<prometheus::Histogram>& response =
      prometheus::BuildHistogram()
          .Name("dtm_server_response_duration")
          .Help("The request durations of a dtm server api")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& transactions =
      prometheus::BuildCounter()
          .Name("dtm_transaction_process_total")
          .Help("All transactions processed by dtm")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& handled =
      prometheus::BuildHistogram()
          .Name("dtm_transaction_handled_duration")
          .Help("Histogram of handling latency of the transaction that handled by the server.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& branches = prometheus::BuildCounter()
                                                          .Name("dtm_branch_process_total")
                                                          .Help("All branches processed by dtm")
                                                          .Register(*registry);
  // dtmd's own (not in DTM).
  prometheus::Family<prometheus::Counter>& purged =
      prometheus::BuildCounter()
          .Name("dtmd_purged_transactions_total")
          .Help("Finished transactions deleted by retention (Store.FinishedDataExpire)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& batched =
      prometheus::BuildCounter()
          .Name("dtmd_batched_branch_rows_total")
          .Help("Branch statuses written by the batched path (UpdateBranchSync 0)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& attempts =
      prometheus::BuildCounter()
          .Name("dtmd_attempt_rows_total")
          .Help("Branch-call attempts recorded by the attempt history, by result")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& spans =
      prometheus::BuildCounter()
          .Name("dtmd_spans_total")
          .Help(
              "Spans sent to the OTLP receiver (exported), refused or timed out (failed), or "
              "dropped on a full queue (overflow)")
          .Register(*registry);
  std::shared_ptr<std::atomic<int64_t>> in_flight_count = std::make_shared<std::atomic<int64_t>>(0);
  prometheus::Gauge& in_flight = prometheus::BuildGauge()
                                     .Name("dtmd_transactions_in_flight")
                                     .Help("Transaction passes running now")
                                     .Register(*registry)
                                     .Add({});
  prometheus::Gauge& cron_lag =
      prometheus::BuildGauge()
          .Name("dtmd_cron_lag_seconds")
          .Help("How long the cron has found due transactions without a break (0: caught up)")
          .Register(*registry)
          .Add({});
  // Prometheus' Go client default buckets, as DTM uses them.
  const prometheus::Histogram::BucketBoundaries buckets{0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                        0.5,   1,    2.5,   5,    10};
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {
  impl_->info.Add({{"gin_version", "none"}, {"grpc_version", "none"}}).Set(1);
  // dtmd's own counters exist from the start at 0 (a series that appears only with its first
  // event makes rate() and alerts blind until then), with every label value they can take.
  impl_->purged.Add({});
  for (const char* r : {"written", "dropped"}) impl_->batched.Add({{"result", r}});
  for (const char* r : {"written", "dropped", "overflow"}) impl_->attempts.Add({{"result", r}});
  for (const char* r : {"exported", "failed", "overflow"}) impl_->spans.Add({{"result", r}});
}
Metrics::~Metrics() = default;

namespace {
// Label values come from a small set: branch ids as the SDKs generate them ("01", "02-03",
// "0101") are kept, any other client-chosen id is "other" (each distinct value is a time series
// held for ever).
std::string BranchIdLabel(const std::string& id) {
  if (id.empty() || id.size() > 8) return "other";
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || c == '-')) return "other";
  }
  return id;
}
std::string ModelLabel(const std::string& m) {
  return m == "saga" || m == "msg" || m == "tcc" || m == "xa" || m == "workflow" ? m : "other";
}
}  // namespace

void Metrics::ObserveApi(const std::string& type, const std::string& api, bool ok, double seconds) {
  impl_->process.Add({{"type", type}, {"api", api}, {"status", ok ? "ok" : "fail"}}).Increment();
  impl_->response.Add({{"type", type}, {"api", api}}, impl_->buckets).Observe(seconds);
}

void Metrics::ObserveTransaction(const std::string& model, bool ok, double seconds) {
  impl_->transactions.Add({{"model", ModelLabel(model)}, {"status", ok ? "ok" : "fail"}})
      .Increment();
  impl_->handled.Add({{"model", ModelLabel(model)}}, impl_->buckets).Observe(seconds);
}

void Metrics::ObserveBranch(const std::string& model, const std::string& branch_id,
                            const std::string& op, bool ok) {
  impl_->branches
      .Add({{"model", ModelLabel(model)},
            {"branchid", BranchIdLabel(branch_id)},
            {"branchtype", op},
            {"status", ok ? "ok" : "fail"}})
      .Increment();
}

void Metrics::ObservePurged(int64_t n) { impl_->purged.Add({}).Increment(static_cast<double>(n)); }

void Metrics::ObserveAttempts(int64_t rows, const std::string& result) {
  impl_->attempts.Add({{"result", result}}).Increment(static_cast<double>(rows));
}

void Metrics::ObserveBatchedBranches(int64_t rows, bool written) {
  impl_->batched.Add({{"result", written ? "written" : "dropped"}})
      .Increment(static_cast<double>(rows));
}

void Metrics::ObserveSpans(int64_t spans, const std::string& result) {
  impl_->spans.Add({{"result", result}}).Increment(static_cast<double>(spans));
}

std::shared_ptr<std::atomic<int64_t>> Metrics::InFlightCounter() const {
  return impl_->in_flight_count;
}

void Metrics::SetCronLag(double seconds) { impl_->cron_lag.Set(seconds); }

std::string Metrics::Serialize() const {
  impl_->in_flight.Set(static_cast<double>(impl_->in_flight_count->load()));
  prometheus::TextSerializer serializer;
  return serializer.Serialize(impl_->registry->Collect());
}

}  // namespace lynx::server
