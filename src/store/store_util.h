// Small pieces every store backend shares: the cursor format of the scans and the NotFound a
// failed compare-and-set reports (DTM's message).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace lynx::store {

// Cursors are the decimal id of the last returned row (as in DTM's SQL stores).
Status ParseIdCursor(const std::string& position, int64_t* id);

// kNotFound for "gid is not stored with this status".
Status NoTrans(const std::string& gid, const std::string& status);

}  // namespace lynx::store
