// BranchBarrier: which branch call a piece of business code belongs to — trans_type, gid,
// branch_id and op, as DTM passes them in a branch request's query — plus the per-call barrier id
// counter of DTM's sub-transaction barrier (dtm-protocol.md §8.2). This header holds the
// descriptor only; Msg::DoAndSubmit hands one (msg, gid, "00", "msg") to the local transaction.
// Value type, thread-compatible.
#pragma once

#include <map>
#include <string>

#include <lynx/status.h>

namespace lynx::dtm {

class BranchBarrier {
 public:
  // InvalidArgument when any of the four is empty (Go's BarrierFrom).
  static StatusOr<BranchBarrier> From(std::string trans_type, std::string gid,
                                      std::string branch_id, std::string op);
  // From the query parameters trans_type, gid, branch_id and op (Go's BarrierFromQuery; "\n",
  // "\r" and ";" are removed from each value).
  static StatusOr<BranchBarrier> FromQuery(const std::map<std::string, std::string>& query);

  const std::string& trans_type() const { return trans_type_; }
  const std::string& gid() const { return gid_; }
  const std::string& branch_id() const { return branch_id_; }
  const std::string& op() const { return op_; }
  int barrier_id() const { return barrier_id_; }
  // Increments the barrier id and returns it as two digits ("01" for the first local transaction
  // of a branch call, "02" for the second, ...).
  std::string NewBarrierId();
  std::string ToString() const;

 private:
  BranchBarrier() = default;
  std::string trans_type_;
  std::string gid_;
  std::string branch_id_;
  std::string op_;
  int barrier_id_ = 0;
};

// Go's dtmimp.Escape: removes "\n", "\r" and ";" (applied to values read from a query).
std::string EscapeQueryValue(const std::string& value);

}  // namespace lynx::dtm
