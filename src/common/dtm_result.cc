#include "common/dtm_result.h"

namespace lynx {

Status ClassifyHttpReply(int status, const std::string& body) {
  if (status == 425 || body.find("ONGOING") != std::string::npos) {
    return Status::Ongoing(WithDtmSuffix(body, StatusCode::kOngoing));
  }
  if (status == 409 || body.find("FAILURE") != std::string::npos) {
    return Status::Failure(WithDtmSuffix(body, StatusCode::kFailure));
  }
  if (status != 200) {
    // DTM's text is the body alone (it reaches wait_result replies and the alert webhook); an
    // empty body would say nothing, so then the status is named.
    return Status::Internal(body.empty() ? "http status " + std::to_string(status) : body);
  }
  return Status::Ok();
}

}  // namespace lynx
