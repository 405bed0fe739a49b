#include <lynx/dtm/trace.h>

#include <string_view>

#include "common/ascii.h"

namespace lynx::dtm {
namespace {

// The lower-case name first (what WithTrace and the branch servers write), then any spelling.
const std::string* Header(const Context& ctx, std::string_view lower_name) {
  const auto& headers = ctx.Headers();
  if (auto it = headers.find(std::string(lower_name)); it != headers.end()) return &it->second;
  for (const auto& [k, v] : headers) {
    if (AsciiLower(k) == lower_name) return &v;
  }
  return nullptr;
}

}  // namespace

std::optional<TraceParent> TraceOf(const Context& ctx) {
  const std::string* tp = Header(ctx, "traceparent");
  if (tp == nullptr) return std::nullopt;
  const std::string* ts = Header(ctx, "tracestate");
  return ParseTraceParent(*tp, ts != nullptr ? std::string_view(*ts) : std::string_view());
}

Context WithTrace(const Context& ctx, const TraceParent& trace) {
  // An empty tracestate is written too: it hides one the parent context may carry from an
  // earlier trace (TraceHeaders sends none when it is empty).
  Context::HeaderMap headers{{"traceparent", trace.Header()}, {"tracestate", trace.tracestate}};
  return ctx.WithHeaders(std::move(headers));
}

Context EnsureTrace(const Context& ctx) {
  return TraceOf(ctx) ? ctx : WithTrace(ctx, NewTraceParent());
}

}  // namespace lynx::dtm
