// What dtmd never shows: values of secret headers (Redaction.Headers) in /query, /all and logs,
// and more than Redaction.MaxQuotedReplyBytes of a branch's reply or error text wherever dtmd
// quotes it (rollback_reason, wait_result errors, logs, the alert webhook). The stored
// branch_headers keep their values: branches still receive them.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lynx::server {

inline constexpr char kRedacted[] = "[redacted]";

class Redactor {
 public:
  Redactor() = default;
  explicit Redactor(const std::vector<std::string>& header_names);
  bool IsSecret(std::string_view header_name) const;  // case-insensitive
  // The headers with every secret value replaced by kRedacted.
  std::map<std::string, std::string> Headers(const std::map<std::string, std::string>& h) const;
  bool empty() const { return names_.empty(); }

 private:
  std::set<std::string> names_;  // lower-cased
};

// `text` cut to at most `max` bytes (at a UTF-8 character boundary) with a note of the full
// size, or unchanged when it fits.
std::string QuoteLimited(std::string_view text, size_t max);

// The status with its message limited by QuoteLimited; FAILURE / ONGOING messages keep DTM's
// suffix (the SDKs look for it).
Status LimitQuotedMessage(Status st, size_t max);

}  // namespace lynx::server
