#include "server/store_runner.h"

#include <spdlog/spdlog.h>

namespace lynx::server {

void StoreRunner::LogStoreError(const Status& st) { spdlog::error("store: {}", st.message()); }

}  // namespace lynx::server
