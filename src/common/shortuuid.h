// Gid generation compatible in shape with DTM's newGid: a random 128-bit id written in base57
// (22 characters, the shortuuid alphabet). Thread-safe.
#pragma once

#include <string>

namespace lynx {

std::string NewShortUuid();

}  // namespace lynx
