// ASCII case folding for protocol tokens (header names, hosts, metadata keys, URL schemes): no
// locale, bytes >= 0x80 unchanged.
#pragma once

#include <string>
#include <string_view>

namespace lynx {

inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace lynx
