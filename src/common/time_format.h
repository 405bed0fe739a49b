// Conversions between Unix milliseconds and the RFC 3339 text DTM's JSON carries
// (Go's time.Time marshalling: local offset, fractional seconds only when non-zero).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace lynx {

// "2026-11-24T10:00:00.123+01:00". Thread-safe.
std::string FormatRfc3339(UnixMs t);
// Accepts what FormatRfc3339 writes, plus "Z" and any offset; nullopt on malformed text.
std::optional<UnixMs> ParseRfc3339(std::string_view text);

}  // namespace lynx
