// One finished span as dtmd exports it (span_exporter.h): the W3C ids of trace_context.h, wall
// times in microseconds, and string or integer attributes.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lynx::server {

struct Span {
  enum class Kind { kInternal = 1, kServer = 2, kClient = 3 };
  std::string trace_id;        // 32 hex digits
  std::string span_id;         // 16 hex digits
  std::string parent_span_id;  // 16 hex digits, "" for a root
  std::string tracestate;
  std::string name;
  Kind kind = Kind::kInternal;
  int64_t start_us = 0;  // Unix microseconds
  int64_t end_us = 0;
  bool error = false;  // OTLP status ERROR with `status_message`; otherwise unset
  std::string status_message;
  std::vector<std::pair<std::string, std::string>> text_attributes = {};
  std::vector<std::pair<std::string, int64_t>> int_attributes = {};
};

// Unix microseconds now (spans use the real clock, never the tests' shifted one).
int64_t SpanClockUs();

}  // namespace lynx::server
