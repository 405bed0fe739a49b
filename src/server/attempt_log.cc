#include "server/attempt_log.h"

#include "server/metrics.h"
#include "server/security/redact.h"
#include "server/validate.h"

namespace lynx::server {

namespace {

constexpr size_t kMaxKeyBytes = 128;

}  // namespace

const char* AttemptOutcome(const Status& status) {
  if (status.ok()) return "SUCCESS";
  if (status.IsFailure()) return "FAILURE";
  if (status.IsOngoing()) return "ONGOING";
  return "ERROR";
}

AttemptLog::AttemptLog(StoreRunner& store, Metrics* metrics, int64_t keep_per_branch,
                       size_t capacity, size_t max_detail_bytes)
    : BatchQueue(
          store, "attempt history",
          {.capacity = capacity,
           // Small batches: a batch is one store write, and one of 1,000 rows (a Redis
           // script, an INSERT of 1,000 rows) held the store for milliseconds five times a
           // second under load, which was most of dtmd's p99 on Redis (21 -> 11 ms at 32
           // clients, docs/benchmark.md round 2). 64 rows cost a few writes a second more.
           .batch_rows = 64,
           .collect_ms = 200,
           .poll_ms = 20,
           .attempts = 3},
          [keep_per_branch](store::Store& s, const std::vector<store::BranchAttempt>& rows) {
            return s.AddAttempts(rows, keep_per_branch);
          },
          {},
          [metrics](size_t rows, bool written) {
            if (metrics != nullptr) {
              metrics->ObserveAttempts(static_cast<int64_t>(rows), written ? "written" : "dropped");
            }
          }),
      metrics_(metrics),
      max_detail_bytes_(max_detail_bytes) {}

void AttemptLog::Record(store::BranchAttempt attempt, const Status& status) {
  attempt.outcome = AttemptOutcome(status);
  attempt.detail = ToValidUtf8(QuoteLimited(status.message(), max_detail_bytes_));
  attempt.target = ToValidUtf8(attempt.target);
  // The key columns are 128 bytes wide on the SQL stores; a workflow's name (the op of its
  // resume) is the one that may be longer. One row the store refuses would cost its whole batch.
  for (std::string* key : {&attempt.gid, &attempt.branch_id, &attempt.op}) {
    if (key->size() > kMaxKeyBytes) *key = ToValidUtf8(key->substr(0, kMaxKeyBytes));
  }
  if (!Enqueue(std::move(attempt)) && metrics_ != nullptr) metrics_->ObserveAttempts(1, "overflow");
}

}  // namespace lynx::server
