#include "store/store_util.h"

#include <charconv>

#include "store/store.h"

namespace lynx::store {

Status ParseIdCursor(const std::string& position, int64_t* id) {
  const char* end = position.data() + position.size();
  auto [ptr, ec] = std::from_chars(position.data(), end, *id);
  if (ec != std::errc() || ptr != end) {
    return Status::InvalidArgument("invalid position: '" + position + "'");
  }
  return Status::Ok();
}

Status StartPage(const std::string& position, int64_t limit, int64_t first, int64_t* id) {
  if (limit <= 0) return Status::InvalidArgument("limit must be positive");
  *id = first;
  return position.empty() ? Status::Ok() : ParseIdCursor(position, id);
}

std::string NextCursor(size_t rows, int64_t limit, int64_t last_id) {
  return static_cast<int64_t>(rows) < limit ? "" : std::to_string(last_id);
}

bool MatchesScan(const TransGlobal& g, const ScanCondition& cond) {
  if (!cond.status.empty() && g.status != cond.status) return false;
  if (!cond.trans_type.empty() && g.trans_type != cond.trans_type) return false;
  // A row without create_time (0 = NULL) never matches a time bound, as in SQL.
  bool timed = cond.create_time_start != 0 || cond.create_time_end != 0;
  if (timed && g.create_time == 0) return false;
  if (cond.create_time_start != 0 && g.create_time < cond.create_time_start) return false;
  if (cond.create_time_end != 0 && g.create_time > cond.create_time_end) return false;
  if (g.gid.compare(0, cond.gid_prefix.size(), cond.gid_prefix) != 0) return false;
  if (cond.overdue_before != 0 &&
      (g.IsFinished() || g.next_cron_time == 0 || g.next_cron_time >= cond.overdue_before)) {
    return false;
  }
  return true;
}

Status NoTrans(const std::string& gid, const std::string& status) {
  return Status::NotFound("no trans with gid: " + gid + " status: " + status);
}

}  // namespace lynx::store
