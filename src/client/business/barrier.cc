#include <lynx/dtm/barrier.h>

#include <cstdio>

namespace lynx::dtm {

std::string EscapeQueryValue(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c != '\n' && c != '\r' && c != ';') out += c;
  }
  return out;
}

StatusOr<BranchBarrier> BranchBarrier::From(std::string trans_type, std::string gid,
                                            std::string branch_id, std::string op) {
  BranchBarrier bb;
  bb.trans_type_ = std::move(trans_type);
  bb.gid_ = std::move(gid);
  bb.branch_id_ = std::move(branch_id);
  bb.op_ = std::move(op);
  if (bb.trans_type_.empty() || bb.gid_.empty() || bb.branch_id_.empty() || bb.op_.empty()) {
    return Status::InvalidArgument("invalid trans info: " + bb.ToString());
  }
  return bb;
}

StatusOr<BranchBarrier> BranchBarrier::FromQuery(const std::map<std::string, std::string>& query) {
  auto get = [&query](const char* key) {
    auto it = query.find(key);
    return it == query.end() ? std::string() : EscapeQueryValue(it->second);
  };
  return From(get("trans_type"), get("gid"), get("branch_id"), get("op"));
}

StatusOr<BranchBarrier> BranchBarrier::FromGrpc(
    const std::map<std::string, std::string>& metadata) {
  // Checked one by one (not left to From) so that the error names the key the caller forgot.
  std::string values[4];
  static constexpr const char* kKeys[4] = {"dtm-trans_type", "dtm-gid", "dtm-branch_id", "dtm-op"};
  for (int i = 0; i < 4; ++i) {
    auto it = metadata.find(kKeys[i]);
    if (it != metadata.end()) values[i] = EscapeQueryValue(it->second);
    if (values[i].empty()) {
      return Status::InvalidArgument(std::string("gRPC metadata ") + kKeys[i] +
                                     " is missing or empty");
    }
  }
  return From(std::move(values[0]), std::move(values[1]), std::move(values[2]),
              std::move(values[3]));
}

std::string BranchBarrier::NewBarrierId() {
  ++barrier_id_;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", barrier_id_);
  return buf;
}

std::string BranchBarrier::ToString() const {
  return "transInfo: " + trans_type_ + " " + gid_ + " " + branch_id_ + " " + op_;
}

}  // namespace lynx::dtm
