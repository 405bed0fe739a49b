// lynx::Context: what a call carries from the request that caused it — a deadline, a cancellation
// signal and the incoming request's headers (which the DTM client passes on to branch calls).
// A Context is a cheap handle (one shared pointer); copies refer to the same context, and derived
// contexts (WithTimeout, WithDeadline, WithHeaders, WithCancel) are its children: cancelling a
// context cancels every context derived from it, never its parent. All methods are thread-safe;
// Cancel() may be called from any thread while others wait on or read the context.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <lynx/status.h>

namespace lynx {

class Context {
 public:
  using Clock = std::chrono::steady_clock;
  using TimePoint = Clock::time_point;
  using HeaderMap = std::map<std::string, std::string>;

  // The empty context: no deadline, no headers, not cancelled (until Cancel() is called on it).
  Context();
  static Context Background() { return Context(); }

  // A child whose deadline is the earlier of the parent's and now + timeout.
  template <class Rep, class Period>
  Context WithTimeout(std::chrono::duration<Rep, Period> timeout) const {
    return WithDeadline(Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout));
  }
  // A child whose deadline is the earlier of the parent's and `deadline`.
  Context WithDeadline(TimePoint deadline) const;
  // A child carrying the parent's headers plus `headers` (the new values win for equal names).
  Context WithHeaders(HeaderMap headers) const;
  // A child that can be cancelled on its own (Cancel() on it leaves this context alone).
  Context WithCancel() const;

  // Cancels this context and everything derived from it. Idempotent.
  void Cancel() const;
  // True once this context or an ancestor was cancelled, or the deadline has passed.
  bool Done() const;
  bool Cancelled() const;
  std::optional<TimePoint> Deadline() const;
  // Time left before the deadline (zero once it passed); nullopt without a deadline.
  std::optional<std::chrono::milliseconds> Remaining() const;
  const HeaderMap& Headers() const;
  // Ok while not done; Unavailable "context canceled" / "context deadline exceeded" after.
  Status Err() const;
  // Sleeps for `duration`, waking early when the context is done. Returns Done().
  bool WaitFor(std::chrono::milliseconds duration) const;

 private:
  struct State;
  explicit Context(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace lynx
