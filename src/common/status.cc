#include "common/status.h"

namespace lynx {

std::string WithDtmSuffix(const std::string& message, StatusCode code) {
  const char* word = code == StatusCode::kFailure   ? "FAILURE"
                     : code == StatusCode::kOngoing ? "ONGOING"
                                                    : nullptr;
  if (word == nullptr) return message;
  std::string suffix = std::string(" ") + word;
  std::string base = message;
  if (base.size() >= suffix.size() &&
      base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0) {
    base.resize(base.size() - suffix.size());
  }
  if (base == word) return base;
  return base + suffix;
}

}  // namespace lynx
