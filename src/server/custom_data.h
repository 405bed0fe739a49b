// The custom_data a transaction type reads while it is processed (dtm-protocol.md §5.2, §5.3,
// §5.6): saga `concurrent` and `orders`, msg `delay`, workflow `name` and `data`. One parser for
// the edge (where a bad value is a 400) and the engine (where a stored value that cannot be read
// fails that one pass, logged with the gid, instead of throwing in the cron). Boost-free header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace lynx::server {

struct SagaCustom {
  bool concurrent = false;
  std::map<int, std::vector<int>> orders;   // step -> prerequisite steps (0-based)
  std::map<int, std::vector<int>> corders;  // step -> steps that depend on it
};

// `steps`: the saga's step count; every step named in orders must be below it.
StatusOr<SagaCustom> ParseSagaCustom(const std::string& custom_data, size_t steps);

// {"delay": N} (the key matched case-insensitively, as Go's JSON decoder does), N in
// [0, kMaxOptionSeconds]; 0 when absent.
StatusOr<int64_t> ParseMsgDelay(const std::string& custom_data);

// A workflow's {"name": "...", "data": "<base64>"}: the registered function to resume and its
// input (decoded). The name is required; data may be absent or empty.
struct WorkflowCustom {
  std::string name;
  std::string data;
};
StatusOr<WorkflowCustom> ParseWorkflowCustom(const std::string& custom_data);

}  // namespace lynx::server
