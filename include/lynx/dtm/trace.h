// Traces in the SDK (W3C Trace Context, lynx/trace_parent.h). A transaction carries a trace in
// its context's `traceparent` / `tracestate` headers: the one its context already had —
// continuing the caller's trace, e.g. a branch handler passing on its request's context, which
// holds dtmd's span for that call — or a new one the transaction starts. Every call the SDK makes
// for it, to DTM (prepare, submit, abort, registerBranch, prepareWorkflow) and to branches (TCC
// try, XA action, workflow steps), sends that traceparent, so dtmd's spans (docs/operations.md)
// and the branches' own join one trace. TransBase::trace() tells which, e.g. for logs.
#pragma once

#include <lynx/context.h>
#include <lynx/trace_parent.h>

#include <optional>

namespace lynx::dtm {

// The trace `ctx` carries (its "traceparent" and "tracestate" headers, names in any case), or
// nullopt when it has none or a malformed one.
std::optional<TraceParent> TraceOf(const Context& ctx);
// A child of `ctx` carrying `trace` (the previous trace headers replaced).
Context WithTrace(const Context& ctx, const TraceParent& trace);
// `ctx` when it carries a trace, else `ctx` with a new one.
Context EnsureTrace(const Context& ctx);

}  // namespace lynx::dtm
