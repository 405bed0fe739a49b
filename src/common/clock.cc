#include "common/clock.h"

#include <chrono>

namespace lynx {

UnixMs SystemClock::Now() const {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count() + offset_ms_.load();
}

UnixMs SteadyNowMs() {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
}

}  // namespace lynx
