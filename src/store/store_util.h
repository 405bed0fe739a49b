// Small pieces every store backend shares: the cursor format of the scans and the NotFound a
// failed compare-and-set reports (DTM's message).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace lynx::store {

// Cursors are the decimal id of the last returned row (as in DTM's SQL stores).
Status ParseIdCursor(const std::string& position, int64_t* id);
// The start of a page of a scan: kInvalidArgument for a limit below 1 or a malformed cursor;
// `*id` is the cursor's id, or `first` on the first page (position "").
Status StartPage(const std::string& position, int64_t limit, int64_t first, int64_t* id);
// The cursor after a page of `rows` rows whose last id is `last_id`: "" when the page was not
// full (the scan is over).
std::string NextCursor(size_t rows, int64_t limit, int64_t last_id);

// Whether a transaction passes a ScanCondition: the stores that filter in process (memory,
// Redis) use this; the SQL stores say the same in their scan statement.
struct TransGlobal;
struct ScanCondition;
bool MatchesScan(const TransGlobal& g, const ScanCondition& cond);

// kNotFound for "gid is not stored with this status".
Status NoTrans(const std::string& gid, const std::string& status);

}  // namespace lynx::store
