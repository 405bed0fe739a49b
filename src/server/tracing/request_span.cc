#include "server/tracing/request_span.h"

#include "server/attempt_log.h"
#include "server/tracing/span_exporter.h"

namespace lynx::server {

RequestSpan::RequestSpan(SpanExporter* exporter, std::string_view traceparent,
                         std::string_view tracestate, std::string api, Trans& t)
    : exporter_(exporter), api_(std::move(api)) {
  auto caller = ParseTraceParent(traceparent, tracestate);
  if (!caller) return;
  caller_ = *caller;
  span_ = ChildSpanOf(caller_);
  t.g.ext_data = TraceExtData(span_);
  gid_ = t.g.gid;
  trans_type_ = t.g.trans_type;
  start_us_ = SpanClockUs();
  active_ = true;
}

void RequestSpan::Finish(const Status& result) {
  if (!active_) return;
  active_ = false;
  if (exporter_ == nullptr) return;
  Span s;
  s.trace_id = span_.trace_id;
  s.span_id = span_.span_id;
  s.parent_span_id = caller_.span_id;
  s.tracestate = span_.tracestate;
  s.name = "dtmd " + api_;
  s.kind = Span::Kind::kServer;
  s.start_us = start_us_;
  s.end_us = SpanClockUs();
  s.text_attributes = {{"dtm.gid", gid_},
                       {"dtm.trans_type", trans_type_},
                       {"dtm.api", api_},
                       {"dtm.result", AttemptOutcome(result)}};
  if (!result.ok() && !result.IsOngoing()) {
    s.error = true;
    s.status_message = result.message().substr(0, 512);
  }
  exporter_->Export(std::move(s));
}

}  // namespace lynx::server
