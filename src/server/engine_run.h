// The state of one processing pass, shared by the pass and the branch coroutines it spawns (which
// may outlive the pass when its time budget runs out). Only touched on the pass's strand.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/engine.h"
#include "server/tracing/trace_context.h"

namespace lynx::server {

struct Engine::Run {
  Trans t;
  std::vector<store::TransBranch> branches;
  std::vector<std::string> branch_errors;  // saga: "url:... return failed: ..." per branch
  UnixMs last_touched = 0;
  // The transaction's span (trace_context.h), read from its ext_data once per pass.
  std::optional<TraceContext> trace;
};

#define LYNX_CO_RETURN_IF_ERROR(expr) \
  do {                                \
    ::lynx::Status _st = (expr);      \
    if (!_st.ok()) co_return _st;     \
  } while (0)

}  // namespace lynx::server
