// BranchBatchWriter: DTM's batched branch-status path (UpdateBranchSync: 0, SQL stores only,
// dtm-protocol.md §7.5). A finished branch's new status is queued instead of written at once; a
// background loop collects up to 20 rows or waits up to ~200 ms, keeps the newest row per
// (gid, branch_id, op), and upserts the batch in one store call (retried 3 times, 1 s apart).
//
// The trade: one store write per batch instead of one per branch, and a window of up to ~200 ms
// (plus the retries) in which a crash loses queued branch statuses. No business effect is lost:
// a lost row belongs either to a transaction that still finishes (the branch ran; only its
// recorded status stays stale) or to one the cron resumes, which calls that branch again —
// something business services accept anyway (idempotent branches, the barrier). The synchronous
// default (UpdateBranchSync: 1) never loses a recorded status. A full queue (1000 rows) falls
// back to the synchronous write rather than blocking the transaction (Enqueue returns false).
#pragma once

#include "server/batch_queue.h"
#include "store/store.h"

namespace lynx::server {

class Metrics;

class BranchBatchWriter : public BatchQueue<store::TransBranch> {
 public:
  BranchBatchWriter(StoreRunner& store, Metrics* metrics);
};

}  // namespace lynx::server
