#include "store/store_util.h"

#include <charconv>

namespace lynx::store {

Status ParseIdCursor(const std::string& position, int64_t* id) {
  const char* end = position.data() + position.size();
  auto [ptr, ec] = std::from_chars(position.data(), end, *id);
  if (ec != std::errc() || ptr != end) {
    return Status::InvalidArgument("invalid position: '" + position + "'");
  }
  return Status::Ok();
}

Status NoTrans(const std::string& gid, const std::string& status) {
  return Status::NotFound("no trans with gid: " + gid + " status: " + status);
}

}  // namespace lynx::store
