// The transfer as a workflow (include/lynx/dtm/workflow.h): TransOut then TransIn on the account
// service, each step an HTTP call recorded with dtmd and compensated (TransOutRevert /
// TransInRevert) when a later step fails. The input is {"amount": N, "to": user}. With
// crash_after_first_step the process ends (std::_Exit(kCrashExitCode)) right after TransOut was
// recorded: the example's simulated crash, after which dtmd resumes the workflow through the
// callback of the process still running.
#pragma once

#include <lynx/dtm/dtm.h>

#include <string>

namespace lynx::example {

inline constexpr char kTransferWorkflow[] = "transfer";
inline constexpr int kCrashExitCode = 17;

// `busi`: the account service's base URL (e.g. http://127.0.0.1:8081/api).
Status RegisterTransferWorkflow(dtm::WorkflowEngine& engine, const std::string& busi,
                                bool crash_after_first_step);

// The workflow's input.
std::string TransferInput(int64_t amount, int to_user);

}  // namespace lynx::example
