#include "client/transports/grpc_request.h"

#include <lynx/dtm/json.h>

namespace lynx::dtm::internal {

std::string StepsJson(const std::vector<std::map<std::string, std::string>>& steps) {
  if (steps.empty()) return "null";
  Json a = Json::array();
  for (const auto& step : steps) a.push_back(Json(step));  // std::map: keys sorted, as Go's
  return a.dump(-1, ' ', false, Json::error_handler_t::replace);
}

dtmgimp::DtmRequest BuildDtmRequest(const TransBase& trans) {
  const TransOptions& o = trans.options();
  dtmgimp::DtmRequest req;
  req.set_gid(trans.gid());
  req.set_transtype(trans.trans_type());
  dtmgimp::DtmTransOptions* opts = req.mutable_transoptions();
  opts->set_waitresult(o.wait_result);
  opts->set_timeouttofail(o.timeout_to_fail);
  opts->set_retryinterval(o.retry_interval);
  opts->mutable_branchheaders()->insert(o.branch_headers.begin(), o.branch_headers.end());
  opts->set_requesttimeout(o.request_timeout);
  opts->set_retrylimit(o.retry_limit);
  req.set_customeddata(trans.custom_data());
  for (const auto& payload : trans.payloads()) req.add_binpayloads(payload);
  req.set_queryprepared(trans.query_prepared());
  req.set_steps(StepsJson(trans.steps()));
  req.set_rollbackreason(trans.rollback_reason());
  return req;
}

dtmgimp::DtmBranchRequest BuildBranchRequest(const std::string& gid, const std::string& trans_type,
                                             const std::map<std::string, std::string>& fields) {
  dtmgimp::DtmBranchRequest req;
  req.set_gid(gid);
  req.set_transtype(trans_type);
  for (const auto& [k, v] : fields) {
    if (k == "branch_id") {
      req.set_branchid(v);
    } else if (k == "data") {
      req.set_busipayload(v);
    } else {
      (*req.mutable_data())[k] = v;
    }
  }
  return req;
}

}  // namespace lynx::dtm::internal
