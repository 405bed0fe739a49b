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
// back to the synchronous write rather than blocking the transaction.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "store/store.h"

namespace lynx::server {

class Metrics;
class StoreRunner;

class BranchBatchWriter {
 public:
  static constexpr size_t kCapacity = 1000;
  static constexpr size_t kBatchRows = 20;
  static constexpr int kCollectMs = 200;
  static constexpr int kPollMs = 20;
  static constexpr int kAttempts = 3;

  BranchBatchWriter(StoreRunner& store, Metrics* metrics) : store_(store), metrics_(metrics) {}

  // Queues the row; false when the queue is full (the caller then writes it synchronously).
  bool Enqueue(store::TransBranch row);
  // Runs until Stop().
  boost::asio::awaitable<void> Loop(boost::asio::io_context& io);
  void Stop() { stopping_ = true; }
  // After Stop(), waits (up to `timeout`) until every Loop has written the batch it holds and
  // returned; the io threads must still run. Rows still queued are left for Drain().
  bool AwaitLoopsDone(std::chrono::milliseconds timeout);
  // Writes whatever is still queued, on the calling thread (at shutdown, after the loop ended).
  Status Drain();

 private:
  // Moves queued rows into `batch`, replacing an older row with the same key.
  void TakeInto(std::vector<store::TransBranch>& batch);
  boost::asio::awaitable<void> Write(boost::asio::io_context& io,
                                     std::vector<store::TransBranch> batch);

  void Count(size_t rows, bool written);

  StoreRunner& store_;
  Metrics* metrics_;
  std::mutex mu_;
  std::deque<store::TransBranch> queue_;
  std::atomic<bool> stopping_{false};
  std::mutex loops_mu_;
  std::condition_variable loops_done_;
  int running_loops_ = 0;  // under loops_mu_
};

}  // namespace lynx::server
