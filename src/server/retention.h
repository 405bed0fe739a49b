// Retention: deletes finished transactions (and their branches) once they are older than
// Store.FinishedDataExpire seconds, on every store. DTM expires finished data only on Redis (key
// TTLs) and BoltDB (at start-up); dtmd purges every backend the same way, so a long-running
// PostgreSQL or MySQL store does not grow without bound. The purge runs every
// Store.PurgeInterval seconds in batches of Store.PurgeBatch rows, each batch one short store
// call, so live traffic is never blocked for long; several instances may purge one store at once.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include <atomic>
#include <cstdint>

#include "common/clock.h"
#include "server/config.h"

namespace lynx::server {

class Metrics;
class StoreRunner;

class Retention {
 public:
  Retention(const StoreConfig& config, const Clock& clock, StoreRunner& store,
            Metrics* metrics = nullptr)
      : config_(config), clock_(clock), store_(store), metrics_(metrics) {}

  // True when FinishedDataExpire > 0 (0 keeps finished transactions forever).
  bool Enabled() const { return config_.finished_data_expire > 0; }
  // Runs until Stop(): one purge round every PurgeInterval seconds.
  boost::asio::awaitable<void> Loop(boost::asio::io_context& io);
  // One round: batches until one comes back short. Returns how many transactions were purged.
  boost::asio::awaitable<int64_t> PurgeOnce();
  void Stop() { stopping_ = true; }

 private:
  const StoreConfig& config_;
  const Clock& clock_;
  StoreRunner& store_;
  Metrics* metrics_;
  std::atomic<bool> stopping_{false};
};

}  // namespace lynx::server
