// AsyncGate: a counting semaphore for coroutines. Acquire waits without blocking a thread until
// one of `capacity` slots is free or the deadline passes; waiters are served in arrival order.
// Thread-safe. Used for outbound connections per branch target and for concurrent heavy reads.
// Internal header (Asio types).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>

namespace lynx {

class AsyncGate {
 public:
  explicit AsyncGate(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}
  AsyncGate(const AsyncGate&) = delete;
  AsyncGate& operator=(const AsyncGate&) = delete;

  // True with a slot held (give it back with Release), false when the deadline passed first.
  boost::asio::awaitable<bool> Acquire(std::chrono::steady_clock::time_point deadline);
  void Release();
  // No slot held and nobody waiting.
  bool Unused() const;
  size_t capacity() const { return capacity_; }

 private:
  void WakeOneLocked();

  const size_t capacity_;
  mutable std::mutex mu_;
  size_t active_ = 0;
  std::deque<std::shared_ptr<boost::asio::steady_timer>> waiters_;
};

}  // namespace lynx
