// Saga: a list of steps (action + compensation) that DTM runs forward and, when an action answers
// FAILURE, compensates backwards (dtm-protocol.md §5.2). Built locally, sent once by Submit().
//   lynx::dtm::Saga saga(server_url, gid);
//   saga.Add(busi + "/TransOut", busi + "/TransOutRevert", {{"amount", 30}})
//       .Add(busi + "/TransIn", busi + "/TransInRevert", {{"amount", 30}});
//   lynx::Status st = saga.Submit();
// Use from one thread at a time.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <lynx/dtm/json.h>
#include <lynx/dtm/trans_base.h>
#include <lynx/status.h>

namespace lynx::dtm {

class Saga : public TransBase, public TransOptionSetters<Saga> {
 public:
  Saga(std::string server_url, std::string gid);

  // Appends a step; `data` is the body DTM sends to both URLs.
  Saga& Add(const std::string& action, const std::string& compensate, Payload data = {});
  // Step `branch` (0-based, in Add order) runs only after every step in `prerequisites`.
  // Only sent when concurrent execution is enabled.
  Saga& AddBranchOrder(int branch, std::vector<int> prerequisites);
  // Steps run concurrently, subject to the branch orders.
  Saga& EnableConcurrent();

  // POST /submit. With options().wait_result the server answers once the saga finished
  // (Failure when it did not succeed).
  Status Submit();

  // custom_data as Go's BuildCustomOptions writes it: {"concurrent":true,"orders":{...}} when
  // concurrent, else empty.
  std::string BuildCustomData() const;
  // The exact submit body.
  std::string SubmitBody() const { return ToJsonWith(BuildCustomData()); }

 private:
  std::map<int, std::vector<int>> orders_;
};

}  // namespace lynx::dtm
