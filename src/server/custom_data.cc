#include "server/custom_data.h"

#include <boost/json.hpp>

#include <cctype>
#include <charconv>

#include "common/base64.h"
#include "common/json_util.h"
#include "server/limits.h"

namespace lynx::server {

namespace bj = boost::json;

namespace {

// A JSON number that is an integer in [0, max]; never throws (Boost.JSON's to_number does on
// values out of range, which once stopped the cron).
bool SmallNonNegative(const bj::value& v, int64_t max, int64_t* out) {
  if (v.is_int64() && v.get_int64() >= 0 && v.get_int64() <= max) {
    *out = v.get_int64();
    return true;
  }
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(max)) {
    *out = static_cast<int64_t>(v.get_uint64());
    return true;
  }
  return false;
}

StatusOr<bj::object> ParseObject(const std::string& text) {
  auto parsed = json::Parse(text);
  if (!parsed.ok()) return Status::InvalidArgument("custom_data: " + parsed.status().message());
  if (!parsed->is_object()) return Status::InvalidArgument("custom_data must be a JSON object");
  return std::move(parsed->get_object());
}

}  // namespace

StatusOr<SagaCustom> ParseSagaCustom(const std::string& custom_data, size_t steps) {
  SagaCustom c;
  if (custom_data.empty()) return c;
  auto o = ParseObject(custom_data);
  if (!o.ok()) return o.status();
  if (Status st = json::GetBool(*o, "concurrent", &c.concurrent); !st.ok()) {
    return Status::InvalidArgument("custom_data: " + st.message());
  }
  auto it = o->find("orders");
  if (it == o->end() || it->value().is_null()) return c;
  if (!it->value().is_object()) {
    return Status::InvalidArgument("custom_data: orders must be an object");
  }
  const int64_t last = static_cast<int64_t>(steps) - 1;
  for (const auto& kv : it->value().get_object()) {
    int step = 0;
    std::string_view key = kv.key();
    auto [p, ec] = std::from_chars(key.data(), key.data() + key.size(), step);
    if (ec != std::errc() || p != key.data() + key.size() || step < 0 || step > last) {
      return Status::InvalidArgument("custom_data: orders key '" + std::string(key) +
                                     "' is not a step index below " + std::to_string(steps));
    }
    if (!kv.value().is_array()) {
      return Status::InvalidArgument("custom_data: orders of step " + std::string(key) +
                                     " must be an array");
    }
    for (const auto& pre : kv.value().get_array()) {
      int64_t p_idx = 0;
      if (last < 0 || !SmallNonNegative(pre, last, &p_idx)) {
        return Status::InvalidArgument("custom_data: orders of step " + std::string(key) +
                                       " must list step indexes below " + std::to_string(steps));
      }
      c.orders[step].push_back(static_cast<int>(p_idx));
      c.corders[static_cast<int>(p_idx)].push_back(step);
    }
  }
  return c;
}

StatusOr<int64_t> ParseMsgDelay(const std::string& custom_data) {
  if (custom_data.empty()) return int64_t{0};
  auto o = ParseObject(custom_data);
  if (!o.ok()) return o.status();
  for (const auto& kv : *o) {
    std::string key(kv.key());
    for (auto& ch : key) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (key != "delay" || kv.value().is_null()) continue;
    int64_t d = 0;
    if (!SmallNonNegative(kv.value(), kMaxOptionSeconds, &d)) {
      return Status::InvalidArgument("custom_data: delay must be an integer from 0 to " +
                                     std::to_string(kMaxOptionSeconds) + " seconds");
    }
    return d;
  }
  return int64_t{0};
}

StatusOr<WorkflowCustom> ParseWorkflowCustom(const std::string& custom_data) {
  auto parsed = json::Parse(custom_data);
  if (!parsed.ok() || !parsed->is_object()) {
    return Status::InvalidArgument(
        "custom_data of a workflow must be a JSON object {\"name\": ..., \"data\": <base64>}");
  }
  const auto& o = parsed->get_object();
  WorkflowCustom w;
  std::string data;
  if (Status st = json::GetString(o, "name", &w.name); !st.ok()) return st;
  if (Status st = json::GetString(o, "data", &data); !st.ok()) return st;
  if (w.name.empty()) return Status::InvalidArgument("custom_data of a workflow needs its name");
  auto decoded = Base64Decode(data);
  if (!decoded.ok()) {
    return Status::InvalidArgument("custom_data.data of a workflow must be base64");
  }
  w.data = std::move(*decoded);
  return w;
}

}  // namespace lynx::server
