#include "server/validate.h"

#include <cctype>

#include "common/ascii.h"
#include "server/custom_data.h"
#include "server/security/url_policy.h"

namespace lynx::server {

namespace {

constexpr size_t kMaxUrlLength = 4096;
constexpr size_t kMaxTopicLength = 256;
constexpr size_t kMaxRemarkLength = 4096;

Status Bad(std::string m) { return Status::InvalidArgument(std::move(m)); }

// gRPC metadata keys: lower-case letters, digits, '-', '_', '.' (gRPC aborts the process on
// anything else); "grpc-" is reserved for the transport.
bool IsGrpcKey(std::string_view lowered) {
  if (lowered.empty() || lowered.rfind("grpc-", 0) == 0) return false;
  for (char c : lowered) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsPrintableAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

namespace {

// The length of the well-formed UTF-8 sequence starting at s[i] (no overlongs, no surrogates, at
// most U+10FFFF), or 0 when there is none.
size_t Utf8SequenceAt(std::string_view s, size_t i) {
  const unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t len = 0;
  uint32_t cp = 0;
  if ((c & 0xe0) == 0xc0) {
    len = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    len = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    const unsigned char cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (cc & 0x3f);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceAt(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string ToValidUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t len = Utf8SequenceAt(s, i);
    if (len == 0 || s[i] == '\0') {
      out.push_back('?');
      ++i;
      continue;
    }
    out.append(s.substr(i, len));
    i += len;
  }
  return out;
}

bool IsHttpToken(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (std::isalnum(c)) continue;
    switch (c) {
      case '!':
      case '#':
      case '$':
      case '%':
      case '&':
      case '\'':
      case '*':
      case '+':
      case '-':
      case '.':
      case '^':
      case '_':
      case '`':
      case '|':
      case '~':
        continue;
      default:
        return false;
    }
  }
  return true;
}

Status CheckGid(std::string_view gid) {
  if (gid.empty()) return Bad("gid is required");
  if (gid.size() > kMaxIdLength) {
    return Bad("gid is longer than " + std::to_string(kMaxIdLength) + " characters");
  }
  for (unsigned char c : gid) {
    if (c < 0x20 || c == 0x7f) return Bad("gid contains control characters");
  }
  if (!IsValidUtf8(gid)) return Bad("gid is not valid UTF-8");
  return Status::Ok();
}

Status CheckId(std::string_view what, std::string_view id) {
  if (id.empty()) return Bad(std::string(what) + " is required");
  if (id.size() > kMaxIdLength) {
    return Bad(std::string(what) + " is longer than " + std::to_string(kMaxIdLength) +
               " characters");
  }
  if (!IsPrintableAscii(id)) {
    return Bad(std::string(what) + " must be printable ASCII (bytes 0x20-0x7e)");
  }
  return Status::Ok();
}

Status CheckBranchHeaders(const StringMap& headers, bool grpc, const Limits& limits) {
  int64_t bytes = 0;
  for (const auto& [name, value] : headers) {
    bytes += static_cast<int64_t>(name.size() + value.size());
    if (bytes > limits.max_branch_header_bytes) {
      return Bad("branch_headers are larger than " +
                 std::to_string(limits.max_branch_header_bytes) +
                 " bytes (Limits.MaxBranchHeaderBytes)");
    }
    if (!IsHttpToken(name)) {
      return Bad("branch_headers name '" + (IsPrintableAscii(name) ? name : "?") +
                 "' is not an HTTP token (RFC 9110)");
    }
    if (grpc && !IsGrpcKey(AsciiLower(name))) {
      return Bad("branch_headers name '" + name +
                 "' is not a gRPC metadata key ([0-9a-z_.-], not grpc-*)");
    }
    if (!IsPrintableAscii(value)) {
      return Bad("branch_headers value of '" + name +
                 "' must be printable ASCII (no CR, LF, NUL or other control bytes)");
    }
  }
  return Status::Ok();
}

Status CheckBranchUrl(std::string_view what, std::string_view url) {
  if (url.empty()) return Status::Ok();
  if (url.size() > kMaxUrlLength) {
    return Bad(std::string(what) + " is longer than " + std::to_string(kMaxUrlLength) + " bytes");
  }
  for (unsigned char c : url) {
    if (c <= 0x20 || c > 0x7e) {
      return Bad(std::string(what) + " must be printable ASCII without spaces");
    }
  }
  return Status::Ok();
}

Status CheckOptions(const TransOptions& o) {
  for (auto [name, v] : {std::pair{"timeout_to_fail", o.timeout_to_fail},
                         {"request_timeout", o.request_timeout},
                         {"retry_interval", o.retry_interval}}) {
    if (v < 0 || v > kMaxOptionSeconds) {
      return Bad(std::string("field '") + name + "' must be from 0 to " +
                 std::to_string(kMaxOptionSeconds) + " seconds");
    }
  }
  for (auto [name, v] : {std::pair{"retry_limit", o.retry_limit}, {"retry_count", o.retry_count}}) {
    if (v < 0 || v > kMaxOptionSeconds) {
      return Bad(std::string("field '") + name + "' must be from 0 to " +
                 std::to_string(kMaxOptionSeconds));
    }
  }
  return Status::Ok();
}

Status CheckTrans(const Trans& t, const Limits& limits) {
  if (Status st = CheckOptions(t.opts); !st.ok()) return st;
  if (t.g.protocol != "http" && !IsPrintableAscii(t.g.gid)) {
    return Bad("gid of a " + t.g.protocol +
               " transaction must be printable ASCII (bytes 0x20-0x7e): it is sent as gRPC "
               "metadata");
  }
  if (Status st = CheckBranchHeaders(t.opts.branch_headers, t.g.protocol != "http", limits);
      !st.ok()) {
    return st;
  }
  const auto& type = t.g.trans_type;
  const int64_t rows_per_step = type == "saga" ? 2 : 1;
  if (static_cast<int64_t>(t.steps.size()) * rows_per_step > limits.max_branches) {
    return Bad(std::to_string(t.steps.size()) + " steps make more than " +
               std::to_string(limits.max_branches) + " branches (Limits.MaxBranches)");
  }
  for (const auto& step : t.steps) {
    for (const char* key : {"action", "compensate"}) {
      auto it = step.find(key);
      if (it == step.end()) continue;
      if (Status st = CheckBranchUrl(std::string("step ") + key + " URL", it->second); !st.ok()) {
        return st;
      }
    }
  }
  if (Status st = CheckBranchUrl("query_prepared", t.g.query_prepared); !st.ok()) return st;
  if (type == "saga") {
    auto c = ParseSagaCustom(t.g.custom_data, t.steps.size());
    if (!c.ok()) return c.status();
  } else if (type == "msg") {
    auto d = ParseMsgDelay(t.g.custom_data);
    if (!d.ok()) return d.status();
  } else if (type == "workflow") {
    if (!t.steps.empty()) return Bad("a workflow has no steps (its branches are registered)");
    auto w = ParseWorkflowCustom(t.g.custom_data);
    if (!w.ok()) return w.status();
  }
  return Status::Ok();
}

Status CheckTransUrls(const Trans& t, const UrlPolicy& policy) {
  const bool grpc = t.g.protocol != "http";
  for (const auto& step : t.steps) {
    for (const char* key : {"action", "compensate"}) {
      auto it = step.find(key);
      if (it == step.end()) continue;
      // A msg step's topic://name stands for the topic's subscribers, checked at subscribe.
      if (t.g.trans_type == "msg" && it->second.rfind("topic://", 0) == 0) continue;
      auto target = policy.CheckUrl(std::string("step ") + key + " URL", it->second, grpc);
      if (!target.ok()) return target.status();
    }
  }
  auto target = policy.CheckUrl("query_prepared", t.g.query_prepared, grpc);
  return target.ok() ? Status::Ok() : target.status();
}

Status CheckRegistrationUrls(const BranchRegistration& r, const UrlPolicy& policy) {
  for (const char* key : {"url", "confirm", "cancel", "phase2_url"}) {
    auto it = r.data.find(key);
    if (it == r.data.end()) continue;
    auto target = policy.CheckUrl(key, it->second, true);
    if (!target.ok()) return target.status();
  }
  return Status::Ok();
}

Status CheckWorkflowOutcome(const StringMap& req_extra) {
  auto status = req_extra.find("status");
  if (status == req_extra.end() || (status->second != "succeed" && status->second != "failed")) {
    return Bad("a workflow's submit needs req_extra.status succeed or failed");
  }
  for (const char* key : {"result", "rollback_reason"}) {
    auto it = req_extra.find(key);
    if (it != req_extra.end() && it->second.size() > kMaxOutcomeBytes) {
      return Bad(std::string("req_extra.") + key + " is longer than " +
                 std::to_string(kMaxOutcomeBytes) + " bytes");
    }
  }
  return Status::Ok();
}

Status CheckRegistration(const BranchRegistration& r) {
  if (Status st = CheckId("branch_id", r.branch_id); !st.ok()) return st;
  if (r.trans_type == "workflow") {
    // A recorded step: its outcome and which of the branch's phases it is.
    auto status = r.data.find("status");
    if (status == r.data.end() || (status->second != "succeed" && status->second != "failed")) {
      return Bad("a workflow step's status must be succeed or failed");
    }
    auto op = r.data.find("op");
    if (op == r.data.end() || (op->second != "action" && op->second != "commit" &&
                               op->second != "rollback" && op->second != "business")) {
      return Bad("a workflow step's op must be action, commit, rollback or business");
    }
  }
  for (const char* key : {"url", "confirm", "cancel"}) {
    auto it = r.data.find(key);
    if (it == r.data.end()) continue;
    if (Status st = CheckBranchUrl(key, it->second); !st.ok()) return st;
  }
  return Status::Ok();
}

Status CheckSubscription(std::string_view topic, std::string_view url, std::string_view remark) {
  if (topic.size() > kMaxTopicLength || !IsPrintableAscii(topic)) {
    return Bad("topic must be printable ASCII of at most " + std::to_string(kMaxTopicLength) +
               " bytes");
  }
  if (Status st = CheckBranchUrl("url", url); !st.ok()) return st;
  if (remark.size() > kMaxRemarkLength || !IsValidUtf8(remark)) {
    return Bad("remark must be valid UTF-8 of at most " + std::to_string(kMaxRemarkLength) +
               " bytes");
  }
  return Status::Ok();
}

}  // namespace lynx::server
