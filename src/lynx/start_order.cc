#include "lynx/start_order.h"

#include <algorithm>
#include <cstdint>
#include <set>
#include <utility>

namespace lynx {
namespace {

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

// Called when the topological sort stalls: every unplaced plugin then waits on another unplaced
// one, so following first-unplaced-dependency links from any of them must loop.
std::string DescribeCycle(const std::vector<StartCandidate>& candidates,
                          const std::vector<std::vector<size_t>>& deps,
                          const std::vector<bool>& placed) {
  size_t current = std::find(placed.begin(), placed.end(), false) - placed.begin();
  std::vector<size_t> path;
  std::vector<int> position(candidates.size(), -1);
  while (position[current] < 0) {
    position[current] = static_cast<int>(path.size());
    path.push_back(current);
    for (size_t dep : deps[current]) {
      if (!placed[dep]) {
        current = dep;
        break;
      }
    }
  }
  // Dependencies start first, so print the loop in "needs" direction: a -> b means a needs b.
  std::string text;
  for (size_t i = static_cast<size_t>(position[current]); i < path.size(); ++i) {
    text += Quoted(candidates[path[i]].name) + " -> ";
  }
  text += Quoted(candidates[current].name);
  std::vector<std::string> blocked;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!placed[i]) blocked.push_back(candidates[i].name);
  }
  std::string all;
  for (const std::string& name : blocked) all += (all.empty() ? "" : ", ") + Quoted(name);
  return "dependency cycle among plugins: " + text +
         " (each depends on the next; cannot start: " + all + ")";
}

}  // namespace

StatusOr<std::vector<size_t>> ComputeStartOrder(
    const std::vector<StartCandidate>& candidates,
    const std::map<std::string, std::string>& not_created) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < candidates.size(); ++i) index.emplace(candidates[i].name, i);

  std::vector<std::vector<size_t>> deps(candidates.size());
  std::vector<std::vector<size_t>> dependents(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) {
    for (const std::string& dep : candidates[i].dependencies) {
      auto it = index.find(dep);
      if (it == index.end()) {
        auto absent = not_created.find(dep);
        if (absent != not_created.end()) {
          return Status::InvalidArgument(
              "plugin " + Quoted(candidates[i].name) + " depends on " + Quoted(dep) +
              ", which was not created: the configuration has no node " + Quoted(absent->second));
        }
        return Status::InvalidArgument("plugin " + Quoted(candidates[i].name) + " depends on " +
                                       Quoted(dep) + ", which is not registered");
      }
      // A dependency listed twice must not be counted twice in the pending counts.
      if (std::find(deps[i].begin(), deps[i].end(), it->second) != deps[i].end()) continue;
      deps[i].push_back(it->second);
      dependents[it->second].push_back(i);
    }
  }

  // Kahn's algorithm; the ready set is ordered by (higher weight, earlier registration).
  std::vector<size_t> pending(candidates.size());
  std::set<std::pair<int64_t, size_t>> ready;  // int64_t: negating INT_MIN
  for (size_t i = 0; i < candidates.size(); ++i) {
    pending[i] = deps[i].size();
    if (pending[i] == 0) ready.emplace(-int64_t{candidates[i].weight}, i);
  }
  std::vector<size_t> order;
  std::vector<bool> placed(candidates.size(), false);
  while (!ready.empty()) {
    const size_t next = ready.begin()->second;
    ready.erase(ready.begin());
    order.push_back(next);
    placed[next] = true;
    for (size_t dependent : dependents[next]) {
      if (--pending[dependent] == 0)
        ready.emplace(-int64_t{candidates[dependent].weight}, dependent);
    }
  }
  if (order.size() != candidates.size()) {
    return Status::InvalidArgument(DescribeCycle(candidates, deps, placed));
  }
  return order;
}

}  // namespace lynx
