// Standard base64 (RFC 4648 with padding) as Go's encoding/base64.StdEncoding writes and reads
// it: DTM's JSON carries []byte fields (bin_data, a workflow's input) this way.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace lynx {

std::string Base64Encode(std::string_view bytes);
// InvalidArgument for a length that is not a multiple of 4 or a character outside the alphabet
// (padding only at the end), as Go's decoder.
StatusOr<std::string> Base64Decode(std::string_view text);

}  // namespace lynx
