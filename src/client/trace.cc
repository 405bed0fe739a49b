#include <lynx/dtm/trace.h>

#include <cctype>
#include <string_view>

namespace lynx::dtm {
namespace {

bool SameName(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

// The lower-case name first (what WithTrace and the branch servers write), then any spelling.
const std::string* Header(const Context& ctx, std::string_view lower_name) {
  const auto& headers = ctx.Headers();
  if (auto it = headers.find(std::string(lower_name)); it != headers.end()) return &it->second;
  for (const auto& [k, v] : headers) {
    if (SameName(k, lower_name)) return &v;
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
  Context::HeaderMap headers{{"traceparent", trace.Header()}, {"tracestate", trace.tracestate}};
  return ctx.WithHeaders(std::move(headers));
}

Context EnsureTrace(const Context& ctx) {
  return TraceOf(ctx) ? ctx : WithTrace(ctx, NewTraceParent());
}

}  // namespace lynx::dtm
