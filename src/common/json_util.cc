#include "common/json_util.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cmath>

namespace lynx::json {

StatusOr<boost::json::value> Parse(std::string_view text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return Status::InvalidArgument("invalid JSON: " + ec.message());
  return v;
}

std::string Serialize(const boost::json::value& v) { return boost::json::serialize(v); }

namespace {
const boost::json::value* Find(const boost::json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return nullptr;
  return &it->value();
}
Status WrongType(std::string_view key, const char* want) {
  return Status::InvalidArgument("field '" + std::string(key) + "' must be " + want);
}
}  // namespace

Status GetString(const boost::json::object& o, std::string_view key, std::string* out) {
  const auto* v = Find(o, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_string()) return WrongType(key, "a string");
  *out = std::string(v->get_string());
  return Status::Ok();
}

Status GetBool(const boost::json::object& o, std::string_view key, bool* out) {
  const auto* v = Find(o, key);
  if (v == nullptr) return Status::Ok();
  if (!v->is_bool()) return WrongType(key, "a boolean");
  *out = v->get_bool();
  return Status::Ok();
}

Status GetInt(const boost::json::object& o, std::string_view key, int64_t* out) {
  const auto* v = Find(o, key);
  if (v == nullptr) return Status::Ok();
  if (v->is_int64()) {
    *out = v->get_int64();
  } else if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    *out = static_cast<int64_t>(v->get_uint64());
  } else if (v->is_double() && std::floor(v->get_double()) == v->get_double() &&
             std::fabs(v->get_double()) < 9.0e15) {
    *out = static_cast<int64_t>(v->get_double());
  } else {
    return WrongType(key, "an integer");
  }
  return Status::Ok();
}

}  // namespace lynx::json
