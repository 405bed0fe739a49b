// Small pieces every store backend shares: the cursor format of the scans and the NotFound a
// failed compare-and-set reports (DTM's message).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace lynx::store {

// Cursors are the decimal id of the last returned row (as in DTM's SQL stores).
Status ParseIdCursor(const std::string& position, int64_t* id);

// Whether a transaction passes a ScanCondition: the stores that filter in process (memory,
// Redis) use this; the SQL stores say the same in their scan statement.
struct TransGlobal;
struct ScanCondition;
bool MatchesScan(const TransGlobal& g, const ScanCondition& cond);

// kNotFound for "gid is not stored with this status".
Status NoTrans(const std::string& gid, const std::string& status);

}  // namespace lynx::store
