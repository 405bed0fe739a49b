// DTM's classification of an HTTP reply from a branch (HTTPResp2DtmError, dtm-protocol.md §4.2),
// shared by dtmd's branch calls and the SDK's own try/action calls.
#pragma once

#include <string>

#include "common/status.h"

namespace lynx {

// 425 or "ONGOING" in the body -> kOngoing; then 409 or "FAILURE" -> kFailure; then any other
// status than 200 -> a retryable error; 200 -> Ok. The substring tests apply to 200 replies too
// (pre-1.10 handlers answer 200 {"dtm_result":"FAILURE"}).
Status ClassifyHttpReply(int status, const std::string& body);

}  // namespace lynx
