#include "server/tracing/otlp_json.h"

#include <boost/json.hpp>

#include <chrono>

#include "server/validate.h"

namespace lynx::server {
namespace bj = boost::json;

int64_t SpanClockUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// Every text of a span passes here: a branch's reply quoted in a status message, a URL or gid
// read back from the store may hold any bytes (or be cut inside a character), and one invalid
// UTF-8 sequence makes the receiver refuse the whole batch.
bj::string Text(std::string_view s) {
  const std::string valid = ToValidUtf8(s);
  return bj::string(valid);
}

bj::object TextAttribute(const std::string& key, const std::string& value) {
  return bj::object{{"key", key}, {"value", bj::object{{"stringValue", Text(value)}}}};
}

std::string Nanos(int64_t us) { return std::to_string(us) + "000"; }

}  // namespace

std::string EncodeOtlpJson(const std::vector<Span>& spans, const std::string& service_name,
                           const std::string& instance, const std::string& version) {
  bj::array out;
  out.reserve(spans.size());
  for (const Span& s : spans) {
    bj::array attributes;
    for (const auto& [k, v] : s.text_attributes) attributes.push_back(TextAttribute(k, v));
    for (const auto& [k, v] : s.int_attributes) {
      // OTLP's JSON mapping writes int64 values as strings.
      attributes.push_back(
          bj::object{{"key", k}, {"value", bj::object{{"intValue", std::to_string(v)}}}});
    }
    bj::object span{{"traceId", s.trace_id},
                    {"spanId", s.span_id},
                    {"name", Text(s.name)},
                    {"kind", static_cast<int>(s.kind)},
                    {"startTimeUnixNano", Nanos(s.start_us)},
                    {"endTimeUnixNano", Nanos(s.end_us)},
                    {"attributes", std::move(attributes)}};
    if (!s.parent_span_id.empty()) span["parentSpanId"] = s.parent_span_id;
    if (!s.tracestate.empty()) span["traceState"] = s.tracestate;
    if (s.error) span["status"] = bj::object{{"code", 2}, {"message", Text(s.status_message)}};
    out.push_back(std::move(span));
  }
  bj::array resource_attributes{TextAttribute("service.name", service_name),
                                TextAttribute("service.instance.id", instance),
                                TextAttribute("service.version", version)};
  bj::object scope{{"scope", bj::object{{"name", "lynx-dtm/dtmd"}, {"version", version}}},
                   {"spans", std::move(out)}};
  bj::object resource_spans{
      {"resource", bj::object{{"attributes", std::move(resource_attributes)}}},
      {"scopeSpans", bj::array{std::move(scope)}}};
  return bj::serialize(bj::object{{"resourceSpans", bj::array{std::move(resource_spans)}}});
}

}  // namespace lynx::server
