// RequestSpan: the span of a prepare / submit / prepareWorkflow request that carried a W3C
// `traceparent` (HTTP header or gRPC metadata), one home for both front-ends. Joining gives the
// transaction its span (stored in ext_data, trace_context.h): the request's server span, whose
// children are every later branch call, retry, back-check and resume. Finish exports it (kind
// SERVER, parent the caller's span) when an exporter is configured. Inactive without a valid
// traceparent: then nothing is stored and nothing exported.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "server/tracing/trace_context.h"
#include "server/trans.h"

namespace lynx::server {

class SpanExporter;

class RequestSpan {
 public:
  RequestSpan() = default;
  // Joins `t` to the caller's trace (sets t.g.ext_data) when `traceparent` is valid.
  RequestSpan(SpanExporter* exporter, std::string_view traceparent, std::string_view tracestate,
              std::string api, Trans& t);
  // Exports the span with the request's outcome; later calls do nothing.
  void Finish(const Status& result);

 private:
  SpanExporter* exporter_ = nullptr;
  TraceContext caller_;
  TraceContext span_;
  std::string api_;
  std::string gid_;
  std::string trans_type_;
  int64_t start_us_ = 0;
  bool active_ = false;
};

}  // namespace lynx::server
