#include "workflow_transfer.h"

#include <cstdlib>

namespace lynx::example {

std::string TransferInput(int64_t amount, int to_user) {
  return dtm::Json{{"amount", amount}, {"to", to_user}}.dump();
}

Status RegisterTransferWorkflow(dtm::WorkflowEngine& engine, const std::string& busi,
                                bool crash_after_first_step) {
  dtm::WorkflowOptions options;
  options.trans.retry_interval = 1;  // resumed within seconds once the client is gone
  options.trans.request_timeout = 10;
  auto fn = [busi, crash_after_first_step](dtm::Workflow& wf,
                                           const std::string& input) -> StatusOr<std::string> {
    dtm::Json in = dtm::Json::parse(input, nullptr, false);
    if (!in.is_object() || !in["amount"].is_number_integer() || !in["to"].is_number_integer()) {
      return Status::Failure("bad transfer input: " + input);
    }
    const std::string out_body = dtm::Json{{"amount", in["amount"]}}.dump();
    const std::string in_body = dtm::Json{{"amount", in["amount"]}, {"user_id", in["to"]}}.dump();

    wf.NewBranch().OnRollback([&wf, busi, out_body](dtm::BranchBarrier&) {
      return wf.CallHttp("POST", busi + "/TransOutRevert", out_body).status();
    });
    if (auto r = wf.CallHttp("POST", busi + "/TransOut", out_body); !r.ok()) return r.status();
    if (crash_after_first_step) std::_Exit(kCrashExitCode);

    wf.NewBranch().OnRollback([&wf, busi, in_body](dtm::BranchBarrier&) {
      return wf.CallHttp("POST", busi + "/TransInRevert", in_body).status();
    });
    if (auto r = wf.CallHttp("POST", busi + "/TransIn", in_body); !r.ok()) return r.status();
    return std::string("transferred");
  };
  return engine.Register(kTransferWorkflow, fn, options);
}

}  // namespace lynx::example
