// BarrierHandler: the branch side of each mode in one object — it checks that DTM called the
// handler with the op it was written for, runs the business code under the sub-transaction
// barrier on a pooled connection, and counts the barrier operations in the client metrics.
//   lynx::dtm::SqlDbPool pool(conf);
//   lynx::dtm::BarrierHandler handler(pool, &dtm.Metrics());
//   server.Handle("POST", "/api/TransOutTry", [&](const lynx::dtm::BranchRequest& req) {
//     auto bb = req.Barrier();
//     if (!bb.ok()) return bb.status();
//     return handler.HandleTCCTry(*bb, [&](lynx::dtm::SqlDb& tx) { return Freeze(tx, req); });
//   });
// A wrong op is InvalidArgument naming the expected and the received op (the helper answers 500
// and DTM retries: the route is miswired, retrying cannot help, and the log says why).
// Thread-safe (the pool is).
#pragma once

#include <functional>
#include <initializer_list>
#include <string>

#include <lynx/dtm/barrier.h>
#include <lynx/dtm/sql.h>
#include <lynx/status.h>

namespace lynx::dtm {

class ClientMetrics;

class BarrierHandler {
 public:
  using Busi = std::function<Status(SqlDb& tx)>;

  // `metrics` (optional) must outlive the handler.
  explicit BarrierHandler(SqlDbPool& pool, const ClientMetrics* metrics = nullptr)
      : pool_(pool), metrics_(metrics) {}

  Status HandleTCCTry(BranchBarrier& bb, const Busi& busi) { return Run(bb, {"try"}, busi); }
  Status HandleTCCConfirm(BranchBarrier& bb, const Busi& busi) {
    return Run(bb, {"confirm"}, busi);
  }
  Status HandleTCCCancel(BranchBarrier& bb, const Busi& busi) { return Run(bb, {"cancel"}, busi); }
  // A saga step: op action or compensate.
  Status HandleSAGA(BranchBarrier& bb, const Busi& busi) {
    return Run(bb, {"action", "compensate"}, busi);
  }
  // A workflow's step (op action) and the callbacks of its branch (OnRollback: op rollback,
  // OnCommit: op commit), called through Workflow::CallHttp / CallGrpc.
  Status HandleWorkflow(BranchBarrier& bb, const Busi& busi) {
    return Run(bb, {"action", "rollback", "commit"}, busi);
  }
  // A msg step delivered by DTM (op action), or the local transaction of DoAndSubmit (op msg).
  Status HandleMsg(BranchBarrier& bb, const Busi& busi) { return Run(bb, {"action", "msg"}, busi); }
  // The back-check of a msg prepared by DoAndSubmit(DB) (BranchBarrier::QueryPrepared).
  Status QueryPrepared(const BranchBarrier& bb);

 private:
  Status Run(BranchBarrier& bb, std::initializer_list<const char*> ops, const Busi& busi);
  SqlDbPool& pool_;
  const ClientMetrics* metrics_;
};

}  // namespace lynx::dtm
