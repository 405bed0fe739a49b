#include <lynx/dtm/barrier_handler.h>

#include <lynx/dtm/metrics.h>

namespace lynx::dtm {

Status BarrierHandler::Run(BranchBarrier& bb, std::initializer_list<const char*> ops,
                           const Busi& busi) {
  std::string expected;
  for (const char* op : ops) {
    if (bb.op() == op) {
      auto db = pool_.Acquire();
      if (!db.ok()) return db.status();
      if (metrics_ != nullptr) metrics_->RecordBarrierOperation();
      return bb.CallWithDB(**db, busi);
    }
    expected += expected.empty() ? op : std::string(" or ") + op;
  }
  return Status::InvalidArgument("barrier handler for op " + expected + " called with op '" +
                                 bb.op() + "' (" + bb.ToString() + ")");
}

Status BarrierHandler::QueryPrepared(const BranchBarrier& bb) {
  auto db = pool_.Acquire();
  if (!db.ok()) return db.status();
  if (metrics_ != nullptr) metrics_->RecordBarrierOperation();
  return bb.QueryPrepared(**db);
}

}  // namespace lynx::dtm
