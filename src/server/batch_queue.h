// BatchQueue: rows the engine produces while it calls branches, written to the store behind the
// calls in batches — one store transaction per batch instead of one per row. Used by the
// batched branch statuses (UpdateBranchSync: 0, branch_batch_writer.h) and by the attempt
// history (attempt_log.h). Enqueue never blocks: a full queue refuses the row and the owner
// decides (write it synchronously, or drop and count it). Background loops take up to
// `batch_rows` rows, wait up to `collect_ms` for more, and write them (retried `attempts` times,
// 1 s apart). Stop + AwaitLoopsDone lets the batch a loop holds be written before the io threads
// stop; Drain writes what is still queued on the calling thread at shutdown. Thread-safe.
#pragma once

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "server/store_runner.h"
#include "store/store.h"

namespace lynx::server {

template <class Row>
class BatchQueue {
 public:
  struct Limits {
    size_t capacity = 1000;
    size_t batch_rows = 20;
    int collect_ms = 200;
    int poll_ms = 20;
    int attempts = 3;
  };
  using WriteFn = std::function<Status(store::Store&, const std::vector<Row>&)>;
  // Folds `row` into an equal-keyed row already in `batch`; false when there is none.
  using MergeFn = std::function<bool(std::vector<Row>& batch, Row& row)>;
  using CountFn = std::function<void(size_t rows, bool written)>;

  BatchQueue(StoreRunner& store, std::string what, Limits limits, WriteFn write, MergeFn merge = {},
             CountFn count = {})
      : store_(store),
        what_(std::move(what)),
        limits_(limits),
        write_(std::move(write)),
        merge_(std::move(merge)),
        count_(std::move(count)) {}

  // Queues the row; false when the queue is full.
  bool Enqueue(Row row) {
    std::lock_guard lock(mu_);
    if (queue_.size() >= limits_.capacity) return false;
    queue_.push_back(std::move(row));
    return true;
  }

  // Runs until Stop().
  boost::asio::awaitable<void> Loop(boost::asio::io_context& io) {
    {
      std::lock_guard lock(loops_mu_);
      ++running_loops_;
    }
    struct Done {
      BatchQueue* q;
      ~Done() {
        std::lock_guard lock(q->loops_mu_);
        if (--q->running_loops_ == 0) q->loops_done_.notify_all();
      }
    } done{this};
    while (!stopping_) {
      std::vector<Row> batch;
      TakeInto(batch);
      if (batch.empty()) {
        co_await Pause(io, limits_.poll_ms);
        continue;
      }
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(limits_.collect_ms);
      while (batch.size() < limits_.batch_rows && std::chrono::steady_clock::now() < deadline &&
             !stopping_) {
        co_await Pause(io, limits_.poll_ms);
        TakeInto(batch);
      }
      co_await Write(io, std::move(batch));
    }
  }

  void Stop() { stopping_ = true; }

  // After Stop(), waits (up to `timeout`) until every Loop has written the batch it holds and
  // returned; the io threads must still run. Rows still queued are left for Drain().
  bool AwaitLoopsDone(std::chrono::milliseconds timeout) {
    std::unique_lock lock(loops_mu_);
    return loops_done_.wait_for(lock, timeout, [this] { return running_loops_ == 0; });
  }

  // Writes whatever is still queued, on the calling thread (at shutdown, after the loops ended).
  Status Drain() {
    while (true) {
      std::vector<Row> batch;
      TakeInto(batch);
      if (batch.empty()) return Status::Ok();
      Status st = write_(store_.store(), batch);
      if (!st.ok()) return st;
      Count(batch.size(), true);
    }
  }

 private:
  static boost::asio::awaitable<void> Pause(boost::asio::io_context& io, int ms) {
    boost::asio::steady_timer timer(io, std::chrono::milliseconds(ms));
    co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }

  void TakeInto(std::vector<Row>& batch) {
    std::lock_guard lock(mu_);
    while (!queue_.empty() && batch.size() < limits_.batch_rows) {
      Row row = std::move(queue_.front());
      queue_.pop_front();
      if (!merge_ || !merge_(batch, row)) batch.push_back(std::move(row));
    }
  }

  boost::asio::awaitable<void> Write(boost::asio::io_context& io, std::vector<Row> batch) {
    for (int attempt = 1; attempt <= limits_.attempts; ++attempt) {
      Status st = co_await store_.Run([&](store::Store& s) { return write_(s, batch); });
      if (st.ok()) {
        Count(batch.size(), true);
        co_return;
      }
      log::Log(log::Component::kStore, spdlog::level::warn,
               "{}: writing {} rows failed (attempt {}/{}): {}", what_, batch.size(), attempt,
               limits_.attempts, st.message());
      if (attempt < limits_.attempts) co_await Pause(io, 1000);
    }
    Count(batch.size(), false);
    log::Log(log::Component::kStore, spdlog::level::err, "{}: dropped {} rows after {} attempts",
             what_, batch.size(), limits_.attempts);
  }

  void Count(size_t rows, bool written) {
    if (count_) count_(rows, written);
  }

  StoreRunner& store_;
  const std::string what_;
  const Limits limits_;
  WriteFn write_;
  MergeFn merge_;
  CountFn count_;
  std::mutex mu_;
  std::deque<Row> queue_;
  std::atomic<bool> stopping_{false};
  std::mutex loops_mu_;
  std::condition_variable loops_done_;
  int running_loops_ = 0;  // under loops_mu_
};

}  // namespace lynx::server
