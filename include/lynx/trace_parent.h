// W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` / `tracestate`
// pair that joins a call to a distributed trace. One implementation for dtmd (which stores a
// transaction's span and sends each branch call a child span) and the SDK (which starts or
// continues a trace on the calls it makes to DTM and to branches).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace lynx {

struct TraceParent {
  std::string trace_id;      // 32 lower-case hex digits, not all zero
  std::string span_id;       // 16 lower-case hex digits, not all zero
  std::string flags = "01";  // 2 hex digits (01: sampled)
  std::string tracestate;    // passed on as received (at most 512 printable bytes, else dropped)
  // "00-<trace_id>-<span_id>-<flags>"
  std::string Header() const { return "00-" + trace_id + "-" + span_id + "-" + flags; }
};

// nullopt when `traceparent` is absent or malformed (the specification says to ignore it then).
std::optional<TraceParent> ParseTraceParent(std::string_view traceparent,
                                            std::string_view tracestate = {});
// A new trace: random trace and span ids, sampled.
TraceParent NewTraceParent();
// The same trace with a new random span id.
TraceParent ChildSpanOf(const TraceParent& parent);

}  // namespace lynx
