// Orders the created plugins of an App: every dependency before its dependents, and among the
// plugins whose dependencies have started, higher weight first, then registration order.
// Pure function, no state.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include <lynx/status.h>

namespace lynx {

struct StartCandidate {
  std::string name;
  int weight = 0;
  std::vector<std::string> dependencies;  // plugin names
};

// `candidates` are the created plugins in registration order; `not_created` maps the names of
// registered but not created plugins to their config prefix, to explain a missing dependency.
// Returns indexes into `candidates` in start order, or InvalidArgument naming the plugins of an
// unknown or not-created dependency or of a dependency cycle.
StatusOr<std::vector<size_t>> ComputeStartOrder(
    const std::vector<StartCandidate>& candidates,
    const std::map<std::string, std::string>& not_created);

}  // namespace lynx
