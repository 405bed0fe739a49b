#include "common/async_gate.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace lynx {

namespace asio = boost::asio;

asio::awaitable<bool> AsyncGate::Acquire(std::chrono::steady_clock::time_point deadline) {
  auto ex = co_await asio::this_coro::executor;
  for (;;) {
    std::shared_ptr<asio::steady_timer> timer;
    {
      std::lock_guard lock(mu_);
      if (active_ < capacity_) {
        ++active_;
        co_return true;
      }
      timer = std::make_shared<asio::steady_timer>(ex, deadline);
      waiters_.push_back(timer);
    }
    co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    if (std::chrono::steady_clock::now() < deadline) continue;  // woken: try again
    std::lock_guard lock(mu_);
    auto it = std::find(waiters_.begin(), waiters_.end(), timer);
    if (it != waiters_.end()) {
      waiters_.erase(it);
    } else {
      WakeOneLocked();  // a release woke us just as we timed out: pass the turn on
    }
    co_return false;
  }
}

void AsyncGate::Release() {
  std::lock_guard lock(mu_);
  if (active_ > 0) --active_;
  WakeOneLocked();
}

bool AsyncGate::Unused() const {
  std::lock_guard lock(mu_);
  return active_ == 0 && waiters_.empty();
}

void AsyncGate::WakeOneLocked() {
  if (waiters_.empty()) return;
  auto timer = std::move(waiters_.front());
  waiters_.pop_front();
  asio::post(timer->get_executor(), [timer] { timer->cancel(); });
}

}  // namespace lynx
