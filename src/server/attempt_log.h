// AttemptLog: the attempt history (not in DTM). Every call dtmd makes for a transaction — a
// branch's first call and its retries, phase 2, a msg back-check, a workflow resume — is recorded
// with its start, duration, target, outcome (SUCCESS / FAILURE / ONGOING / ERROR), HTTP status or
// gRPC code and the reply or error text cut to Redaction.MaxQuotedReplyBytes. Rows are kept in
// the store, so every instance sees them (GET /api/dtmsvr/attempts?gid=...), the newest
// Attempts.KeepPerBranch (20) per (gid, branch_id, op), and go with their transaction when
// retention purges it.
// Written behind the calls, batched (BatchQueue: up to 64 rows, at most 200 ms apart), so a call
// never waits for its record: a full queue (Attempts.QueueCapacity, 10000) drops the record, and
// a store that refuses a batch three times drops it; both are counted in dtmd_attempt_rows_total
// and logged. A crash loses at most the queued records (the last ~200 ms). Thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "server/batch_queue.h"
#include "store/store.h"

namespace lynx::server {

class Metrics;

class AttemptLog : public BatchQueue<store::BranchAttempt> {
 public:
  AttemptLog(StoreRunner& store, Metrics* metrics, int64_t keep_per_branch, size_t capacity,
             size_t max_detail_bytes);

  // Records one call. `status` is the call's classified result; `code` the HTTP status or gRPC
  // code (0: no reply). Never blocks.
  void Record(store::BranchAttempt attempt, const Status& status);

 private:
  Metrics* metrics_;
  size_t max_detail_bytes_;
};

// SUCCESS, FAILURE, ONGOING or ERROR.
const char* AttemptOutcome(const Status& status);

}  // namespace lynx::server
