#include "server/branch_batch_writer.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>

#include "server/metrics.h"
#include "server/store_runner.h"

namespace lynx::server {

namespace asio = boost::asio;

namespace {

bool SameKey(const store::TransBranch& a, const store::TransBranch& b) {
  return a.gid == b.gid && a.branch_id == b.branch_id && a.op == b.op;
}

asio::awaitable<void> Pause(asio::io_context& io, int ms) {
  asio::steady_timer timer(io, std::chrono::milliseconds(ms));
  co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

}  // namespace

void BranchBatchWriter::Count(size_t rows, bool written) {
  if (metrics_ != nullptr) metrics_->ObserveBatchedBranches(static_cast<int64_t>(rows), written);
}

bool BranchBatchWriter::Enqueue(store::TransBranch row) {
  std::lock_guard lock(mu_);
  if (queue_.size() >= kCapacity) return false;
  queue_.push_back(std::move(row));
  return true;
}

void BranchBatchWriter::TakeInto(std::vector<store::TransBranch>& batch) {
  std::lock_guard lock(mu_);
  while (!queue_.empty() && batch.size() < kBatchRows) {
    store::TransBranch row = std::move(queue_.front());
    queue_.pop_front();
    auto same = std::find_if(batch.begin(), batch.end(),
                             [&](const store::TransBranch& b) { return SameKey(b, row); });
    if (same != batch.end()) {
      *same = std::move(row);
    } else {
      batch.push_back(std::move(row));
    }
  }
}

bool BranchBatchWriter::AwaitLoopsDone(std::chrono::milliseconds timeout) {
  std::unique_lock lock(loops_mu_);
  return loops_done_.wait_for(lock, timeout, [this] { return running_loops_ == 0; });
}

asio::awaitable<void> BranchBatchWriter::Loop(asio::io_context& io) {
  // A batch taken from the queue is held here until written: Server::Stop waits for it before
  // stopping the io threads, or it would be lost with this coroutine.
  {
    std::lock_guard lock(loops_mu_);
    ++running_loops_;
  }
  struct Done {
    BranchBatchWriter* w;
    ~Done() {
      std::lock_guard lock(w->loops_mu_);
      if (--w->running_loops_ == 0) w->loops_done_.notify_all();
    }
  } done{this};
  while (!stopping_) {
    std::vector<store::TransBranch> batch;
    TakeInto(batch);
    if (batch.empty()) {
      co_await Pause(io, kPollMs);
      continue;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kCollectMs);
    while (batch.size() < kBatchRows && std::chrono::steady_clock::now() < deadline && !stopping_) {
      co_await Pause(io, kPollMs);
      TakeInto(batch);
    }
    co_await Write(io, std::move(batch));
  }
}

asio::awaitable<void> BranchBatchWriter::Write(asio::io_context& io,
                                               std::vector<store::TransBranch> batch) {
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    Status st = co_await store_.Run([&batch](store::Store& s) { return s.UpdateBranches(batch); });
    if (st.ok()) {
      Count(batch.size(), true);
      co_return;
    }
    spdlog::warn("batched branch update of {} rows failed (attempt {}/{}): {}", batch.size(),
                 attempt, kAttempts, st.message());
    if (attempt < kAttempts) co_await Pause(io, 1000);
  }
  // The recorded statuses are lost, not the branches' effects (see the header).
  Count(batch.size(), false);
  spdlog::error("batched branch update dropped {} rows after {} attempts", batch.size(), kAttempts);
}

Status BranchBatchWriter::Drain() {
  while (true) {
    std::vector<store::TransBranch> batch;
    TakeInto(batch);
    if (batch.empty()) return Status::Ok();
    Status st = store_.store().UpdateBranches(batch);
    if (!st.ok()) return st;
    Count(batch.size(), true);
  }
}

}  // namespace lynx::server
