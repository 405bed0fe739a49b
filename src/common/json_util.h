// Small helpers over Boost.JSON for the server's decoders and encoders. Internal header: include
// it only from .cc files that already deal with JSON.
#pragma once

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lynx::json {

// Parses text into a value; InvalidArgument with the parser's message on malformed input.
StatusOr<boost::json::value> Parse(std::string_view text);
std::string Serialize(const boost::json::value& v);

// Typed field readers. A missing key or JSON null gives `fallback`; a value of the wrong type
// gives InvalidArgument naming the field.
Status GetString(const boost::json::object& o, std::string_view key, std::string* out);
Status GetBool(const boost::json::object& o, std::string_view key, bool* out);
Status GetInt(const boost::json::object& o, std::string_view key, int64_t* out);

}  // namespace lynx::json
