// The span of one call dtmd made for a traced transaction — a branch call, a retry, a phase-2
// call, a msg back-check, a workflow resume — as a CLIENT span under the transaction's span,
// with the same id that was sent to the branch in its `traceparent` (so the branch's own spans
// hang below it). Named "<op> <branch_id>" ("action 01", "compensate 02", "msg 00" for a
// back-check).
#pragma once

#include <cstdint>

#include "common/status.h"
#include "server/branch_caller.h"
#include "server/tracing/trace_context.h"

namespace lynx::server {

class SpanExporter;

void ExportCallSpan(SpanExporter& exporter, const TraceContext& transaction,
                    const TraceContext& call_span, int64_t start_us, const BranchCall& call,
                    int64_t reply_code, const Status& result);

}  // namespace lynx::server
