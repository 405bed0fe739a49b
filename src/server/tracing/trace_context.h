// W3C Trace Context (lynx/trace_parent.h) as dtmd carries it: a `traceparent` (and `tracestate`)
// on prepare / submit / prepareWorkflow — HTTP header or gRPC metadata — makes the transaction
// part of that trace. dtmd gives the transaction a span of its own (a child of the caller's,
// request_span.h), stores it with the transaction (ext_data {"headers": {"traceparent": ...,
// "tracestate": ...}}, the shape of DTM's forwarded headers, so every instance and every later
// pass sees it), and sends each branch call, retry, back-check and resume a child span of it
// (call_span.h). A malformed traceparent is ignored, as the specification asks.
#pragma once

#include <lynx/trace_parent.h>

#include <optional>
#include <string>
#include <string_view>

namespace lynx::server {

using TraceContext = TraceParent;

// The transaction's ext_data for its span; and back (nullopt when there is none or it is bad).
std::string TraceExtData(const TraceContext& span);
std::optional<TraceContext> TraceFromExtData(std::string_view ext_data);

}  // namespace lynx::server
