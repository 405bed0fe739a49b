#include "server/retention.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <chrono>

#include "common/log.h"
#include "server/metrics.h"
#include "server/store_runner.h"

namespace lynx::server {

namespace asio = boost::asio;

asio::awaitable<void> Retention::Loop(asio::io_context& io) {
  asio::steady_timer timer(io);
  while (!stopping_) {
    timer.expires_after(std::chrono::seconds(std::max<int64_t>(1, config_.purge_interval)));
    co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (stopping_) break;
    co_await PurgeOnce();
  }
}

asio::awaitable<int64_t> Retention::PurgeOnce() {
  if (!Enabled()) co_return 0;
  const UnixMs before = clock_.Now() - config_.finished_data_expire * 1000;
  const int64_t batch = std::max<int64_t>(1, config_.purge_batch);
  int64_t total = 0;
  while (!stopping_) {
    auto n = co_await store_.Run(
        [before, batch](store::Store& s) { return s.PurgeFinished(before, batch); });
    if (!n.ok()) {
      // The next round tries again; a store outage must not stop the loop.
      log::Log(log::Component::kRetention, spdlog::level::warn,
               "retention: purge of finished transactions failed: {}", n.status().message());
      break;
    }
    total += *n;
    if (metrics_ != nullptr && *n > 0) metrics_->ObservePurged(*n);
    if (*n < batch) break;
  }
  if (total > 0) {
    log::Log(log::Component::kRetention, spdlog::level::info,
             "retention: purged {} finished transactions older than {} s", total,
             config_.finished_data_expire);
  }
  co_return total;
}

}  // namespace lynx::server
