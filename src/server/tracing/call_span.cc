#include "server/tracing/call_span.h"

#include "server/attempt_log.h"
#include "server/tracing/span_exporter.h"

namespace lynx::server {

void ExportCallSpan(SpanExporter& exporter, const TraceContext& transaction,
                    const TraceContext& call_span, int64_t start_us, const BranchCall& call,
                    int64_t reply_code, const Status& result) {
  Span s;
  s.trace_id = call_span.trace_id;
  s.span_id = call_span.span_id;
  s.parent_span_id = transaction.span_id;
  s.tracestate = call_span.tracestate;
  s.name = call.op + " " + call.branch_id;
  s.kind = Span::Kind::kClient;
  s.start_us = start_us;
  s.end_us = SpanClockUs();
  s.text_attributes = {{"dtm.gid", call.gid},
                       {"dtm.trans_type", call.trans_type},
                       {"dtm.branch_id", call.branch_id},
                       {"dtm.op", call.op},
                       {"dtm.outcome", AttemptOutcome(result)},
                       {"url.full", call.url}};
  if (reply_code != 0) {
    const bool http = call.url.rfind("http://", 0) == 0 || call.url.rfind("https://", 0) == 0;
    s.int_attributes.emplace_back(http ? "http.response.status_code" : "rpc.grpc.status_code",
                                  reply_code);
  }
  // ONGOING is a normal answer (ask again later); FAILURE and errors are what a trace reader
  // looks for.
  if (!result.ok() && !result.IsOngoing()) {
    s.error = true;
    s.status_message = result.message().substr(0, 512);
  }
  exporter.Export(std::move(s));
}

}  // namespace lynx::server
