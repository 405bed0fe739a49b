#include "server/store_runner.h"

#include "common/log.h"

#include <spdlog/spdlog.h>

namespace lynx::server {

void StoreRunner::LogStoreError(const Status& st) {
  log::Log(log::Component::kStore, spdlog::level::err, "store: {}", st.message());
}

}  // namespace lynx::server
