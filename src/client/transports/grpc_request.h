// The messages a gRPC transaction sends to DTM (dtm-protocol.md §3.1, §9.3), built from the same
// TransBase fields the HTTP body is built from, as Go's dtmgimp.GetDtmRequest does.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <lynx/dtm/trans_base.h>

#include "proto/dtmgimp.pb.h"

namespace lynx::dtm::internal {

// JSON text of the steps array as Go's json.Marshal writes a []map[string]string: keys sorted,
// and "null" for no steps (Go's nil slice; DTM parses it as no steps).
std::string StepsJson(const std::vector<std::map<std::string, std::string>>& steps);

// DtmRequest{Gid, TransType, TransOptions{WaitResult, TimeoutToFail, RetryInterval,
// BranchHeaders, RequestTimeout, RetryLimit}, CustomedData, BinPayloads, QueryPrepared, Steps,
// RollbackReason}. `concurrent` has no field (gRPC cannot express it, §3.1).
dtmgimp::DtmRequest BuildDtmRequest(const TransBase& trans);

// DtmBranchRequest for registerBranch's `fields` (HTTP's string map): branch_id -> BranchID,
// data -> BusiPayload (the bytes), every other field -> Data (confirm/cancel for TCC, url for XA).
dtmgimp::DtmBranchRequest BuildBranchRequest(const std::string& gid, const std::string& trans_type,
                                             const std::map<std::string, std::string>& fields);

}  // namespace lynx::dtm::internal
