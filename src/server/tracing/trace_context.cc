#include "server/tracing/trace_context.h"

#include <boost/json.hpp>

namespace lynx::server {

std::string TraceExtData(const TraceContext& span) {
  boost::json::object headers{{"traceparent", span.Header()}};
  if (!span.tracestate.empty()) headers["tracestate"] = span.tracestate;
  return boost::json::serialize(boost::json::object{{"headers", std::move(headers)}});
}

std::optional<TraceContext> TraceFromExtData(std::string_view ext_data) {
  if (ext_data.empty()) return std::nullopt;
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(ext_data, ec);  // stored data: never trusted
  if (ec || !v.is_object()) return std::nullopt;
  const auto* headers = v.as_object().if_contains("headers");
  if (headers == nullptr || !headers->is_object()) return std::nullopt;
  const auto* tp = headers->as_object().if_contains("traceparent");
  if (tp == nullptr || !tp->is_string()) return std::nullopt;
  const auto* ts = headers->as_object().if_contains("tracestate");
  return ParseTraceParent(tp->get_string(), ts != nullptr && ts->is_string()
                                                ? std::string_view(ts->get_string())
                                                : std::string_view());
}

}  // namespace lynx::server
