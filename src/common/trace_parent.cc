#include <lynx/trace_parent.h>

#include <cstdint>
#include <random>

namespace lynx {

namespace {

constexpr size_t kMaxTracestate = 512;

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool AllZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// Printable ASCII only (a header value dtmd passes on must not break a request).
bool IsPrintable(std::string_view s) {
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

std::string RandomHex(size_t digits) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  while (out.size() < digits) {
    uint64_t v = rng();
    for (int i = 0; i < 16 && out.size() < digits; ++i, v >>= 4) out.push_back(kHex[v & 0xf]);
  }
  if (AllZero(out)) out.back() = '1';
  return out;
}

}  // namespace

std::optional<TraceParent> ParseTraceParent(std::string_view traceparent,
                                            std::string_view tracestate) {
  // version "-" trace-id "-" parent-id "-" flags; a later version may append "-..." fields.
  if (traceparent.size() < 55 || traceparent[2] != '-' || traceparent[35] != '-' ||
      traceparent[52] != '-') {
    return std::nullopt;
  }
  const std::string_view version = traceparent.substr(0, 2);
  if (!IsLowerHex(version) || version == "ff") return std::nullopt;
  if (version == "00" && traceparent.size() != 55) return std::nullopt;
  if (version != "00" && traceparent.size() > 55 && traceparent[55] != '-') return std::nullopt;
  TraceParent t;
  t.trace_id = std::string(traceparent.substr(3, 32));
  t.span_id = std::string(traceparent.substr(36, 16));
  t.flags = std::string(traceparent.substr(53, 2));
  if (!IsLowerHex(t.trace_id) || AllZero(t.trace_id) || !IsLowerHex(t.span_id) ||
      AllZero(t.span_id) || !IsLowerHex(t.flags)) {
    return std::nullopt;
  }
  if (tracestate.size() <= kMaxTracestate && IsPrintable(tracestate)) {
    t.tracestate = std::string(tracestate);
  }
  return t;
}

TraceParent ChildSpanOf(const TraceParent& parent) {
  TraceParent child = parent;
  child.span_id = RandomHex(16);
  return child;
}

TraceParent NewTraceParent() {
  TraceParent t;
  t.trace_id = RandomHex(32);
  t.span_id = RandomHex(16);
  return t;
}

}  // namespace lynx
