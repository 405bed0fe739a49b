// W3C Trace Context (https://www.w3.org/TR/trace-context/) as dtmd carries it: a `traceparent`
// (and `tracestate`) on prepare / submit / prepareWorkflow — HTTP header or gRPC metadata — makes
// the transaction part of that trace. dtmd gives the transaction a span of its own (a child of
// the caller's), stores it with the transaction (ext_data {"headers": {"traceparent": ...,
// "tracestate": ...}}, the shape of DTM's forwarded headers, so every instance and every later
// pass sees it), and sends each branch call, retry, back-check and resume a child span of it.
// A malformed traceparent is ignored, as the specification asks. Span export is not here yet.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lynx::server {

struct TraceContext {
  std::string trace_id;    // 32 lower-case hex digits, not all zero
  std::string span_id;     // 16 lower-case hex digits, not all zero
  std::string flags;       // 2 hex digits (01: sampled)
  std::string tracestate;  // passed on as received (at most 512 bytes, else dropped)
  std::string Traceparent() const { return "00-" + trace_id + "-" + span_id + "-" + flags; }
};

// nullopt when `traceparent` is absent or malformed.
std::optional<TraceContext> ParseTraceparent(std::string_view traceparent,
                                             std::string_view tracestate);
// The same trace with a new random span id.
TraceContext ChildSpan(const TraceContext& parent);
// The transaction's ext_data for its span; and back (nullopt when there is none or it is bad).
std::string TraceExtData(const TraceContext& span);
std::optional<TraceContext> TraceFromExtData(std::string_view ext_data);

}  // namespace lynx::server
