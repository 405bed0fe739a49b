// Clock: every timeout, back-off and lease in dtmd reads time through this interface so that
// tests can move it. Times are milliseconds since the Unix epoch (0 means "unset").
// Implementations are thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace lynx {

using UnixMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixMs Now() const = 0;
};

// Wall clock plus an adjustable offset (the test-only time shift of dtmd; 0 in production).
class SystemClock : public Clock {
 public:
  UnixMs Now() const override;
  void Shift(int64_t delta_ms) { offset_ms_.fetch_add(delta_ms); }
  int64_t offset_ms() const { return offset_ms_.load(); }

 private:
  std::atomic<int64_t> offset_ms_{0};
};

// A clock that only moves when told (unit tests).
class ManualClock : public Clock {
 public:
  explicit ManualClock(UnixMs start) : now_(start) {}
  UnixMs Now() const override { return now_.load(); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }
  void Set(UnixMs t) { now_.store(t); }

 private:
  std::atomic<UnixMs> now_;
};

// Wall-clock milliseconds, for measuring durations that tests never shift (pass budgets, metrics).
UnixMs SteadyNowMs();

}  // namespace lynx
