// Bounds shared by the inbound HTTP server and the outbound client. Boost-free header.
#pragma once

#include <cstdint>

namespace lynx::http {

// Beast stores one header field in at most 64 KiB and throws (outside any handler, ending the
// process) on a longer one. Header sections, trailer sections and the read buffer that holds them
// are therefore bounded below that: a header section by its limit, a trailer section by the read
// buffer, which is the header limit plus kReadSlackBytes.
inline constexpr int64_t kMaxHeaderSectionBytes = 48 * 1024;
inline constexpr int64_t kReadSlackBytes = 4 * 1024;

// Header names and values written on outbound requests: a value with CR, LF or NUL would split
// the request (smuggling a second one onto a pooled connection), so such a header is refused.
inline constexpr int64_t kMaxOutboundHeaderValue = 16 * 1024;

}  // namespace lynx::http
