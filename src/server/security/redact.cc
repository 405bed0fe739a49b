#include "server/security/redact.h"

#include <cctype>

#include "common/ascii.h"
#include "common/dtm_result.h"

namespace lynx::server {

Redactor::Redactor(const std::vector<std::string>& header_names) {
  for (const auto& n : header_names) names_.insert(AsciiLower(n));
}

bool Redactor::IsSecret(std::string_view header_name) const {
  return !names_.empty() && names_.count(AsciiLower(header_name)) > 0;
}

std::map<std::string, std::string> Redactor::Headers(
    const std::map<std::string, std::string>& h) const {
  std::map<std::string, std::string> out = h;
  for (auto& [k, v] : out) {
    if (IsSecret(k)) v = kRedacted;
  }
  return out;
}

std::string QuoteLimited(std::string_view text, size_t max) {
  if (text.size() <= max) return std::string(text);
  size_t cut = max;
  // Back off continuation bytes (10xxxxxx) so that a multi-byte character is not split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + "... [" + std::to_string(text.size()) + " bytes, cut]";
}

Status LimitQuotedMessage(Status st, size_t max) {
  if (st.message().size() <= max) return st;
  const StatusCode code = st.code();
  std::string text = QuoteLimited(st.message(), max);
  if (code == StatusCode::kFailure || code == StatusCode::kOngoing) {
    text = WithDtmSuffix(text, code);
  }
  return Status(code, std::move(text));
}

}  // namespace lynx::server
