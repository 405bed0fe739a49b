// What a workflow client reads from and writes to DTM besides the calls every transaction makes:
// the progress prepareWorkflow answers (HTTP JSON or gRPC DtmProgressesReply, read defensively:
// it comes from the network), and the step records this SDK stores as a step's data — the
// step's description (checked on replay) before its result bytes.
#pragma once

#include <string>
#include <vector>

#include <lynx/status.h>

#include "proto/dtmgimp.pb.h"

namespace lynx::dtm::internal {

struct WorkflowProgress {
  std::string status;  // prepared | aborting | succeed | failed
  std::string rollback_reason;
  std::string result;  // decoded from base64
  struct Step {
    std::string branch_id;
    std::string op;
    std::string status;
    std::string data;  // bin_data, decoded
  };
  std::vector<Step> steps;
};

// The HTTP reply {"transaction": {status, rollback_reason, result}, "progresses": [{branch_id,
// op, status, bin_data}]}. Internal naming what is wrong for anything else.
StatusOr<WorkflowProgress> ParseProgressJson(const std::string& body);
// The gRPC reply (its result base64 as over HTTP).
StatusOr<WorkflowProgress> FromProgressReply(const dtmgimp::DtmProgressesReply& reply);

// "lynx-wf <kind>\n<data>": the record of a step. A newline in kind is replaced by a space.
std::string EncodeStepRecord(const std::string& kind, const std::string& data);
struct StepRecord {
  std::string kind;  // "" when the data was not written by EncodeStepRecord
  std::string data;
};
StepRecord DecodeStepRecord(const std::string& bin_data);

}  // namespace lynx::dtm::internal
