// The state of one processing pass, shared by the pass and the branch coroutines it spawns (which
// may outlive the pass when its time budget runs out). Only touched on the pass's strand.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/status.h"
#include "server/engine.h"
#include "server/tracing/trace_context.h"

namespace lynx::server {

struct Engine::Run {
  Trans t;
  std::vector<store::TransBranch> branches;
  std::vector<std::string> branch_errors;  // saga: "url:... return failed: ..." per branch
  UnixMs last_touched = 0;
  // The branch whose success leads straight to the pass's status change (the last forward
  // branch of a sequential transaction): its result is written with that change when the store
  // combines the two (Store::CombinesBranchesAndStatus). SIZE_MAX: none.
  size_t finishing_branch = SIZE_MAX;
  // Set when the pass has ended; a branch coroutine that outlives it writes its own result.
  bool pass_over = false;
  // The transaction's span (trace_context.h), read from its ext_data once per pass.
  std::optional<TraceContext> trace;

  // The log fields of this pass (log.h): gid, the branch when given, and the trace id, so that a
  // log line joins its trace.
  log::Tx LogTx(std::string_view branch_id = {}, std::string_view op = {}) const {
    return {t.g.gid, branch_id, op, trace ? std::string_view(trace->trace_id) : std::string_view()};
  }
};

#define LYNX_CO_RETURN_IF_ERROR(expr) \
  do {                                \
    ::lynx::Status _st = (expr);      \
    if (!_st.ok()) co_return _st;     \
  } while (0)

}  // namespace lynx::server
