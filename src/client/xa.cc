#include <lynx/dtm/xa.h>

namespace lynx::dtm {

Xa::Xa(std::string server_url, std::string gid)
    : TransBase(std::move(server_url), std::move(gid), "xa") {}

StatusOr<std::string> Xa::CallBranch(const std::string& url, Payload data) {
  auto branch_id = branch_ids_.NewSubBranchId();
  if (!branch_id.ok()) return branch_id.status();
  return RequestBranch("POST", data.Serialize(), *branch_id, "action", url);
}

// Unlike Go's XA, the abort carries rollback_reason (as TCC's does): DTM then records why.
Status XaGlobalTransaction(Xa& xa, const std::function<Status(Xa&)>& fn) {
  return xa.RunGlobalTransaction([&] { return fn(xa); });
}

Status XaGlobalTransaction(const std::string& server_url, const std::string& gid,
                           const std::function<Status(Xa&)>& fn) {
  Xa xa(server_url, gid);
  return XaGlobalTransaction(xa, fn);
}

Status XaGlobalTransaction(const std::string& server_url, const std::string& gid,
                           const std::function<void(Xa&)>& custom,
                           const std::function<Status(Xa&)>& fn) {
  Xa xa(server_url, gid);
  if (custom) custom(xa);
  return XaGlobalTransaction(xa, fn);
}

}  // namespace lynx::dtm
