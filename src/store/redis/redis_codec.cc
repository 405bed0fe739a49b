#include "store/redis/redis_codec.h"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <initializer_list>

#include "common/base64.h"
#include "common/time_format.h"

namespace lynx::store::redis {

namespace bj = boost::json;

namespace {

// The members dtmcli.TransOptions adds to a stored global (DTM embeds the struct).
constexpr std::initializer_list<const char*> kOptionMembers = {
    "wait_result",    "timeout_to_fail", "request_timeout", "retry_interval",
    "branch_headers", "retry_limit",     "retry_count"};

// A stored body written member by member, in the order given: the text bj::serialize of a
// bj::object filled in that order writes, without building the object (a map of allocated
// values per row was the larger part of a write's encoding time). Finish() drops the leading
// '{' as WithoutBrace does.
class BodyWriter {
 public:
  void String(const char* key, std::string_view v) {
    Key(key);
    out_ += bj::serialize(bj::string_view(v.data(), v.size()));
  }
  void StringIf(const char* key, std::string_view v) {  // omitempty
    if (!v.empty()) String(key, v);
  }
  // Times are digits, letters and "-:.+": nothing to escape.
  void Time(const char* key, UnixMs t) {
    Key(key);
    out_ += '"';
    out_ += FormatRfc3339(t);
    out_ += '"';
  }
  void TimeOrNull(const char* key, UnixMs t) {
    if (t != 0) {
      Time(key, t);
    } else {
      Key(key);
      out_ += "null";
    }
  }
  void TimeIf(const char* key, UnixMs t) {
    if (t != 0) Time(key, t);
  }
  void Int(const char* key, int64_t v) {
    Key(key);
    out_ += std::to_string(v);
  }
  void Bool(const char* key, bool v) {
    Key(key);
    out_ += v ? "true" : "false";
  }
  void Value(const char* key, const bj::value& v) {
    Key(key);
    out_ += bj::serialize(v);
  }
  std::string Finish() {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void Key(const char* key) {
    out_ += ",\"";
    out_ += key;  // our own member names: nothing to escape
    out_ += "\":";
  }
  std::string out_;
};

Status Malformed(const char* what, const std::string& why) {
  return Status::Internal(std::string("redis store: malformed ") + what + " JSON: " + why);
}

StatusOr<bj::object> ParseObject(std::string_view json, const char* what) {
  bj::parse_options opts;
  opts.allow_invalid_utf8 = true;  // Go and cjson pass such bytes through; keep them
  boost::system::error_code ec;
  bj::value v = bj::parse(json, ec, {}, opts);
  if (ec) return Malformed(what, ec.message());
  if (!v.is_object()) return Malformed(what, "not an object");
  return std::move(v.as_object());
}

// Readers: a missing member or null is the zero value; a value of the wrong type is an error.
class Reader {
 public:
  Reader(const bj::object& o, const char* what) : o_(o), what_(what) {}

  void Str(const char* key, std::string* out) {
    const bj::value* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_string()) return Wrong(key, "a string");
    *out = std::string(v->get_string());
  }
  void Int(const char* key, int64_t* out) {
    const bj::value* v = Find(key);
    if (v == nullptr) return;
    if (v->is_int64()) {
      *out = v->get_int64();
    } else if (v->is_uint64()) {
      *out = static_cast<int64_t>(v->get_uint64());
    } else if (v->is_double() && std::trunc(v->get_double()) == v->get_double()) {
      *out = static_cast<int64_t>(v->get_double());  // cjson writes large integers as 1e+14
    } else {
      Wrong(key, "an integer");
    }
  }
  void Time(const char* key, UnixMs* out) {
    const bj::value* v = Find(key);
    if (v == nullptr) return;
    if (!v->is_string()) return Wrong(key, "a time");
    std::string_view text = v->get_string();
    // Go's zero time.Time (a non-nil pointer to it) means "no time" here too.
    if (text.rfind("0001-01-01T", 0) == 0) return;
    auto t = ParseRfc3339(text);
    if (!t) return Wrong(key, "an RFC 3339 time");
    *out = *t;
  }
  void Bytes(const char* key, std::string* out) {
    std::string text;
    Str(key, &text);
    auto bytes = Base64Decode(text);
    if (!bytes.ok()) return Wrong(key, "base64");
    *out = std::move(*bytes);
  }
  Status status() const { return status_; }

 private:
  const bj::value* Find(const char* key) const {
    auto it = o_.find(key);
    return it == o_.end() || it->value().is_null() ? nullptr : &it->value();
  }
  void Wrong(const char* key, const char* want) {
    if (status_.ok()) status_ = Malformed(what_, std::string("'") + key + "' is not " + want);
  }

  const bj::object& o_;
  const char* what_;
  Status status_;
};

}  // namespace

std::string Score(UnixMs ms) {
  bool negative = ms < 0;
  uint64_t a = negative ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  char buf[32];
  snprintf(buf, sizeof buf, "%s%llu.%03llu", negative ? "-" : "",
           static_cast<unsigned long long>(a / 1000), static_cast<unsigned long long>(a % 1000));
  return buf;
}

std::string TimeText(UnixMs ms) { return ms == 0 ? "" : FormatRfc3339(ms); }

std::string EncodeGlobalBody(const TransGlobal& g) {
  BodyWriter w;
  w.TimeOrNull("create_time", g.create_time);
  w.TimeOrNull("update_time", g.update_time);
  w.StringIf("gid", g.gid);
  w.StringIf("trans_type", g.trans_type);
  w.StringIf("status", g.status);
  w.StringIf("query_prepared", g.query_prepared);
  w.StringIf("protocol", g.protocol);
  w.TimeIf("finish_time", g.finish_time);
  w.TimeIf("rollback_time", g.rollback_time);
  w.StringIf("result", g.result);
  w.StringIf("rollback_reason", g.rollback_reason);
  w.StringIf("options", g.options);
  w.StringIf("custom_data", g.custom_data);
  if (g.next_cron_interval != 0) w.Int("next_cron_interval", g.next_cron_interval);
  // Always written (0 as the epoch): DTM dereferences next_cron_time of a stored global, and 0
  // means "due at once" in our contract, not "never".
  w.Time("next_cron_time", g.next_cron_time);
  w.StringIf("owner", g.owner);
  w.StringIf("ext_data", g.ext_data);
  // DTM embeds dtmcli.TransOptions in the stored global, so its members appear at the top level
  // next to the "options" text; "concurrent" has no omitempty.
  bool concurrent = false;
  if (!g.options.empty()) {
    auto opts = ParseObject(g.options, "options");
    if (opts.ok()) {
      for (const char* key : kOptionMembers) {
        auto it = opts->find(key);
        if (it != opts->end()) w.Value(key, it->value());
      }
      auto c = opts->find("concurrent");
      concurrent = c != opts->end() && c->value().is_bool() && c->value().get_bool();
    }
  }
  w.Bool("concurrent", concurrent);
  return w.Finish();
}

std::string EncodeBranchBody(const std::string& gid, const TransBranch& b) {
  BodyWriter w;
  w.TimeOrNull("create_time", b.create_time);
  w.TimeOrNull("update_time", b.update_time);
  w.StringIf("gid", gid);
  w.StringIf("url", b.url);
  if (!b.bin_data.empty()) w.String("bin_data", Base64Encode(b.bin_data));
  w.StringIf("branch_id", b.branch_id);
  w.StringIf("op", b.op);
  w.StringIf("status", b.status);
  w.TimeIf("finish_time", b.finish_time);
  w.TimeIf("rollback_time", b.rollback_time);
  return w.Finish();
}

std::string EncodeKVBody(const KV& kv) {
  BodyWriter w;
  w.TimeOrNull("create_time", kv.create_time);
  w.TimeOrNull("update_time", kv.update_time);
  // KVStore's members have no omitempty.
  w.String("cat", kv.cat);
  w.String("k", kv.k);
  w.String("v", kv.v);
  w.Int("version", kv.version);
  return w.Finish();
}

std::string EncodeAttemptBody(const BranchAttempt& a) {
  BodyWriter w;
  w.String("gid", a.gid);
  w.String("branch_id", a.branch_id);
  w.String("op", a.op);
  w.Int("start_time", a.start_time);
  w.Int("duration_ms", a.duration_ms);
  w.String("target", a.target);
  w.String("outcome", a.outcome);
  w.Int("code", a.code);
  w.String("detail", a.detail);
  w.String("owner", a.owner);
  return w.Finish();
}

StatusOr<BranchAttempt> DecodeAttempt(std::string_view json) {
  auto o = ParseObject(json, "attempt");
  if (!o.ok()) return o.status();
  BranchAttempt a;
  Reader r(*o, "attempt");
  r.Int("id", &a.id);
  r.Str("gid", &a.gid);
  r.Str("branch_id", &a.branch_id);
  r.Str("op", &a.op);
  r.Int("start_time", &a.start_time);
  r.Int("duration_ms", &a.duration_ms);
  r.Str("target", &a.target);
  r.Str("outcome", &a.outcome);
  r.Int("code", &a.code);
  r.Str("detail", &a.detail);
  r.Str("owner", &a.owner);
  if (!r.status().ok()) return r.status();
  return a;
}

namespace {

StatusOr<TransGlobal> GlobalFrom(const bj::object& o) {
  TransGlobal g;
  Reader r(o, "global");
  r.Int("id", &g.id);
  r.Str("gid", &g.gid);
  r.Str("trans_type", &g.trans_type);
  r.Str("status", &g.status);
  r.Str("query_prepared", &g.query_prepared);
  r.Str("protocol", &g.protocol);
  r.Time("create_time", &g.create_time);
  r.Time("update_time", &g.update_time);
  r.Time("finish_time", &g.finish_time);
  r.Time("rollback_time", &g.rollback_time);
  r.Str("result", &g.result);
  r.Str("rollback_reason", &g.rollback_reason);
  r.Str("options", &g.options);
  r.Str("custom_data", &g.custom_data);
  r.Int("next_cron_interval", &g.next_cron_interval);
  r.Time("next_cron_time", &g.next_cron_time);
  r.Str("owner", &g.owner);
  r.Str("ext_data", &g.ext_data);
  if (!r.status().ok()) return r.status();
  return g;
}

StatusOr<TransBranch> BranchFrom(const bj::object& o) {
  TransBranch b;
  Reader r(o, "branch");
  r.Int("id", &b.id);
  r.Str("gid", &b.gid);
  r.Str("url", &b.url);
  r.Bytes("bin_data", &b.bin_data);
  r.Str("branch_id", &b.branch_id);
  r.Str("op", &b.op);
  r.Str("status", &b.status);
  r.Time("create_time", &b.create_time);
  r.Time("update_time", &b.update_time);
  r.Time("finish_time", &b.finish_time);
  r.Time("rollback_time", &b.rollback_time);
  if (!r.status().ok()) return r.status();
  return b;
}

// The compact layout's later values win over the JSON's; "" removes a member (omitempty).
void Overlay(bj::object& o, const std::string& key, const std::string& value) {
  if (value.empty()) {
    o.erase(key);
  } else if (key == "next_cron_interval") {
    int64_t n = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec == std::errc() && end == value.data() + value.size()) {
      o[key] = n;
    } else {
      o[key] = value;  // the Reader reports it as not an integer
    }
  } else {
    o[key] = value;
  }
}

constexpr char kStateSeparator = '\x1f';
constexpr std::array<const char*, 4> kStateMembers = {"status", "update_time", "finish_time",
                                                      "rollback_time"};

}  // namespace

StatusOr<TransGlobal> DecodeGlobal(std::string_view json) {
  auto o = ParseObject(json, "global");
  if (!o.ok()) return o.status();
  return GlobalFrom(*o);
}

StatusOr<TransBranch> DecodeBranch(std::string_view json) {
  auto o = ParseObject(json, "branch");
  if (!o.ok()) return o.status();
  return BranchFrom(*o);
}

const std::vector<std::string>& CompactGlobalFields() {
  static const std::vector<std::string> fields = {
      "j",           "status",         "update_time",
      "finish_time", "rollback_time",  "rollback_reason",
      "result",      "next_cron_time", "next_cron_interval",
      "owner"};
  return fields;
}

StatusOr<TransGlobal> DecodeCompactGlobal(
    const std::vector<std::pair<std::string, std::string>>& fields) {
  const std::string* json = nullptr;
  for (const auto& [k, v] : fields) {
    if (k == "j") json = &v;
  }
  if (json == nullptr) return Malformed("global", "compact hash without its 'j' field");
  auto o = ParseObject(*json, "global");
  if (!o.ok()) return o.status();
  for (const auto& [k, v] : fields) {
    if (k != "j") Overlay(*o, k, v);
  }
  return GlobalFrom(*o);
}

std::string BranchField(const std::string& branch_id, const std::string& op) {
  // Length-prefixed: no byte of the ids can make two keys collide.
  return "r" + std::to_string(branch_id.size()) + ":" + branch_id + op;
}

bool IsBranchField(std::string_view field) {
  return field.size() > 1 && field[0] == 'r' && field[1] >= '0' && field[1] <= '9';
}

std::string BranchStateField(const std::string& branch_id, const std::string& op) {
  return "s" + BranchField(branch_id, op).substr(1);
}

std::string EncodeBranchState(const TransBranch& b) {
  std::string out = b.status;
  for (UnixMs t : {b.update_time, b.finish_time, b.rollback_time}) {
    out += kStateSeparator;
    out += TimeText(t);
  }
  return out;
}

StatusOr<TransBranch> DecodeCompactBranch(std::string_view row, const std::string* state) {
  auto o = ParseObject(row, "branch");
  if (!o.ok()) return o.status();
  if (state != nullptr) {
    size_t from = 0;
    for (const char* member : kStateMembers) {
      if (from > state->size()) return Malformed("branch", "state has too few parts");
      size_t end = state->find(kStateSeparator, from);
      if (end == std::string::npos) end = state->size();
      Overlay(*o, member, state->substr(from, end - from));
      from = end + 1;
    }
    if (from <= state->size()) return Malformed("branch", "state has too many parts");
  }
  return BranchFrom(*o);
}

StatusOr<KV> DecodeKV(std::string_view json) {
  auto o = ParseObject(json, "kv");
  if (!o.ok()) return o.status();
  KV kv;
  Reader r(*o, "kv");
  r.Int("id", &kv.id);
  r.Str("cat", &kv.cat);
  r.Str("k", &kv.k);
  r.Str("v", &kv.v);
  r.Int("version", &kv.version);
  r.Time("create_time", &kv.create_time);
  r.Time("update_time", &kv.update_time);
  if (!r.status().ok()) return r.status();
  return kv;
}

}  // namespace lynx::store::redis
