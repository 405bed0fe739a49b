// The in-memory form of a global transaction while the server handles a request or a processing
// pass: the stored row, its decoded options, and (for new transactions) what the request carried.
// Plain data, owned by one request or pass at a time.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "store/store.h"

namespace lynx::server {

inline constexpr const char* kOpAction = "action";
inline constexpr const char* kOpCompensate = "compensate";
inline constexpr const char* kOpConfirm = "confirm";
inline constexpr const char* kOpCancel = "cancel";
inline constexpr const char* kOpCommit = "commit";
inline constexpr const char* kOpRollback = "rollback";
inline constexpr const char* kOpMsg = "msg";

// DTM's TransOptions, stored as JSON text in trans_global.options and re-read on every pass so
// that headers, timeouts and intervals survive into retries.
struct TransOptions {
  bool wait_result = false;
  int64_t timeout_to_fail = 0;
  int64_t request_timeout = 0;
  int64_t retry_interval = 0;
  std::map<std::string, std::string> branch_headers;
  bool concurrent = false;
  int64_t retry_limit = 0;
  int64_t retry_count = 0;
};

using StringMap = std::map<std::string, std::string>;

struct Trans {
  store::TransGlobal g;
  TransOptions opts;
  // From the request only (never stored as such).
  std::vector<StringMap> steps;
  std::vector<std::string> bin_payloads;
  std::string rollback_reason_request;
  StringMap req_extra;
  // Engine only: branch results of the current pass held back so that the status change that
  // follows writes them too (Store::SaveBranchesChangeStatus; Engine::ExecBranchInner).
  std::vector<store::TransBranch> pending_rows;
};

// Body of registerBranch: a flat object of strings.
struct BranchRegistration {
  std::string gid;
  std::string trans_type;
  std::string branch_id;
  StringMap data;  // every key of the request (confirm, cancel, url, data, op, status, ...)
};

}  // namespace lynx::server
