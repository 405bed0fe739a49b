#include "server/grpc/grpc_codec.h"

#include "proto/dtmgimp.pb.h"
#include "server/trans_codec.h"
#include "server/validate.h"

namespace lynx::server {

StatusOr<Trans> TransFromGrpc(const dtmgimp::DtmRequest& req, bool require_type) {
  Trans t;
  t.g.gid = req.gid();
  t.g.trans_type = req.transtype();
  t.g.protocol = "grpc";
  t.g.custom_data = req.customeddata();
  t.g.query_prepared = req.queryprepared();
  t.rollback_reason_request = req.rollbackreason();
  if (req.has_transoptions()) {
    const auto& o = req.transoptions();
    t.opts.wait_result = o.waitresult();
    t.opts.timeout_to_fail = o.timeouttofail();
    t.opts.retry_interval = o.retryinterval();
    t.opts.request_timeout = o.requesttimeout();
    t.opts.retry_limit = o.retrylimit();
    t.opts.branch_headers.insert(o.branchheaders().begin(), o.branchheaders().end());
  }
  t.req_extra.insert(req.reqextra().begin(), req.reqextra().end());
  auto steps = DecodeStepsText(req.steps());
  if (!steps.ok()) return steps.status();
  t.steps = std::move(*steps);
  t.bin_payloads.assign(req.binpayloads().begin(), req.binpayloads().end());
  if (Status st = CheckTransRequest(&t, require_type); !st.ok()) return st;
  return t;
}

StatusOr<BranchRegistration> BranchRegistrationFromGrpc(const dtmgimp::DtmBranchRequest& req) {
  BranchRegistration r;
  r.data.insert(req.data().begin(), req.data().end());
  r.data["data"] = req.busipayload();
  r.gid = req.gid();
  if (Status st = CheckAndEscapeGid(&r.gid); !st.ok()) return st;
  r.trans_type = req.transtype();
  r.branch_id = req.branchid();
  if (Status st = CheckRegistration(r); !st.ok()) return st;
  return r;
}

}  // namespace lynx::server
