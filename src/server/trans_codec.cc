#include "server/trans_codec.h"

#include <boost/json.hpp>

#include "common/base64.h"
#include "common/json_util.h"
#include "common/time_format.h"
#include "server/security/redact.h"
#include "server/validate.h"

namespace lynx::server {

namespace bj = boost::json;

#define RETURN_IF_ERROR(expr)    \
  do {                           \
    ::lynx::Status _st = (expr); \
    if (!_st.ok()) return _st;   \
  } while (0)

bool IsKnownTransType(const std::string& t) {
  return t == "saga" || t == "msg" || t == "tcc" || t == "xa" || t == "workflow";
}

Status CheckAndEscapeGid(std::string* gid) {
  std::string out;
  out.reserve(gid->size());
  for (char c : *gid) {
    if (c == '\n' || c == '\r' || c == ';') continue;
    out += c;
  }
  RETURN_IF_ERROR(CheckGid(out));
  *gid = std::move(out);
  return Status::Ok();
}

namespace {

Status ReadStringMap(const bj::object& o, std::string_view key, StringMap* out) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return Status::Ok();
  if (!it->value().is_object()) {
    return Status::InvalidArgument("field '" + std::string(key) + "' must be an object");
  }
  for (const auto& kv : it->value().get_object()) {
    if (!kv.value().is_string()) {
      return Status::InvalidArgument("field '" + std::string(key) + "." + std::string(kv.key()) +
                                     "' must be a string");
    }
    (*out)[std::string(kv.key())] = std::string(kv.value().get_string());
  }
  return Status::Ok();
}

}  // namespace

Status CheckTransRequest(Trans* t, bool require_type) {
  store::TransGlobal& g = t->g;
  RETURN_IF_ERROR(CheckAndEscapeGid(&g.gid));
  if (require_type && !IsKnownTransType(g.trans_type)) {
    if (g.trans_type.empty()) return Status::InvalidArgument("trans_type is required");
    return Status::InvalidArgument("unknown trans_type '" + g.trans_type + "'");
  }
  if (g.protocol.empty()) g.protocol = "http";
  if (g.protocol != "http" && g.protocol != "grpc" && g.protocol != "json-rpc") {
    return Status::InvalidArgument("unknown protocol '" + g.protocol + "'");
  }
  const TransOptions& op = t->opts;
  RETURN_IF_ERROR(CheckOptions(op));
  if (t->steps.size() > t->bin_payloads.size()) {
    return Status::InvalidArgument(
        "steps and payloads mismatch: " + std::to_string(t->steps.size()) + " steps but " +
        std::to_string(t->bin_payloads.size()) + " payloads");
  }
  if (!g.custom_data.empty()) {
    auto cd = json::Parse(g.custom_data);
    if (!cd.ok() || !cd->is_object()) {
      return Status::InvalidArgument("custom_data must be a JSON object in text form");
    }
  }
  return Status::Ok();
}

static StatusOr<std::vector<StringMap>> DecodeSteps(const bj::value& steps) {
  std::vector<StringMap> out;
  if (steps.is_null()) return out;
  if (!steps.is_array()) return Status::InvalidArgument("field 'steps' must be an array");
  for (const auto& step : steps.get_array()) {
    if (!step.is_object()) return Status::InvalidArgument("every step must be an object");
    StringMap m;
    for (const auto& kv : step.get_object()) {
      if (!kv.value().is_string()) {
        return Status::InvalidArgument("step field '" + std::string(kv.key()) +
                                       "' must be a string");
      }
      m[std::string(kv.key())] = std::string(kv.value().get_string());
    }
    out.push_back(std::move(m));
  }
  return out;
}

StatusOr<std::vector<StringMap>> DecodeStepsText(std::string_view text) {
  if (text.empty()) return std::vector<StringMap>();
  auto parsed = json::Parse(text);
  if (!parsed.ok())
    return Status::InvalidArgument("field 'Steps' is not JSON: " + parsed.status().message());
  return DecodeSteps(*parsed);
}

StatusOr<Trans> DecodeTransRequest(std::string_view body, bool require_type) {
  auto parsed = json::Parse(body);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return Status::InvalidArgument("request body must be a JSON object");
  const bj::object& o = parsed->get_object();
  Trans t;
  store::TransGlobal& g = t.g;
  RETURN_IF_ERROR(json::GetString(o, "gid", &g.gid));
  RETURN_IF_ERROR(json::GetString(o, "trans_type", &g.trans_type));
  RETURN_IF_ERROR(json::GetString(o, "custom_data", &g.custom_data));
  RETURN_IF_ERROR(json::GetString(o, "query_prepared", &g.query_prepared));
  RETURN_IF_ERROR(json::GetString(o, "protocol", &g.protocol));
  RETURN_IF_ERROR(json::GetString(o, "rollback_reason", &t.rollback_reason_request));
  TransOptions& op = t.opts;
  RETURN_IF_ERROR(json::GetBool(o, "wait_result", &op.wait_result));
  RETURN_IF_ERROR(json::GetInt(o, "timeout_to_fail", &op.timeout_to_fail));
  RETURN_IF_ERROR(json::GetInt(o, "request_timeout", &op.request_timeout));
  RETURN_IF_ERROR(json::GetInt(o, "retry_interval", &op.retry_interval));
  RETURN_IF_ERROR(json::GetInt(o, "retry_limit", &op.retry_limit));
  RETURN_IF_ERROR(json::GetInt(o, "retry_count", &op.retry_count));
  RETURN_IF_ERROR(json::GetBool(o, "concurrent", &op.concurrent));
  RETURN_IF_ERROR(ReadStringMap(o, "branch_headers", &op.branch_headers));
  RETURN_IF_ERROR(ReadStringMap(o, "req_extra", &t.req_extra));

  if (auto it = o.find("steps"); it != o.end()) {
    auto steps = DecodeSteps(it->value());
    if (!steps.ok()) return steps.status();
    t.steps = std::move(*steps);
  }
  if (auto it = o.find("payloads"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_array())
      return Status::InvalidArgument("field 'payloads' must be an array");
    for (const auto& p : it->value().get_array()) {
      if (!p.is_string()) return Status::InvalidArgument("every payload must be a string");
      t.bin_payloads.emplace_back(p.get_string());
    }
  }
  for (const auto& step : t.steps) {  // legacy: the payload inside the step
    auto d = step.find("data");
    if (d != step.end() && !d->second.empty()) t.bin_payloads.push_back(d->second);
  }
  RETURN_IF_ERROR(CheckTransRequest(&t, require_type));
  return t;
}

StatusOr<BranchRegistration> DecodeBranchRegistration(std::string_view body) {
  auto parsed = json::Parse(body);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return Status::InvalidArgument("request body must be a JSON object");
  BranchRegistration r;
  for (const auto& kv : parsed->get_object()) {
    if (!kv.value().is_string()) {
      return Status::InvalidArgument("registerBranch field '" + std::string(kv.key()) +
                                     "' must be a string");
    }
    r.data[std::string(kv.key())] = std::string(kv.value().get_string());
  }
  r.gid = r.data["gid"];
  RETURN_IF_ERROR(CheckAndEscapeGid(&r.gid));
  r.trans_type = r.data["trans_type"];
  r.branch_id = r.data["branch_id"];
  RETURN_IF_ERROR(CheckRegistration(r));
  return r;
}

namespace {
// The option fields as DTM's JSON has them: "concurrent" always, the others when non-zero.
void PutOptions(bj::object& j, const TransOptions& o) {
  if (o.wait_result) j["wait_result"] = true;
  if (o.timeout_to_fail) j["timeout_to_fail"] = o.timeout_to_fail;
  if (o.request_timeout) j["request_timeout"] = o.request_timeout;
  if (o.retry_interval) j["retry_interval"] = o.retry_interval;
  if (!o.branch_headers.empty()) {
    bj::object h;
    for (const auto& [k, v] : o.branch_headers) h[k] = v;
    j["branch_headers"] = std::move(h);
  }
  j["concurrent"] = o.concurrent;
  if (o.retry_limit) j["retry_limit"] = o.retry_limit;
  if (o.retry_count) j["retry_count"] = o.retry_count;
}
}  // namespace

std::string EncodeOptions(const TransOptions& o) {
  bj::object j;
  PutOptions(j, o);
  return bj::serialize(j);
}

Status DecodeOptions(std::string_view text, TransOptions* o) {
  if (text.empty()) return Status::Ok();
  auto parsed = json::Parse(text);
  if (!parsed.ok()) return parsed.status();
  if (!parsed->is_object()) return Status::InvalidArgument("options must be an object");
  const auto& j = parsed->get_object();
  RETURN_IF_ERROR(json::GetBool(j, "wait_result", &o->wait_result));
  RETURN_IF_ERROR(json::GetInt(j, "timeout_to_fail", &o->timeout_to_fail));
  RETURN_IF_ERROR(json::GetInt(j, "request_timeout", &o->request_timeout));
  RETURN_IF_ERROR(json::GetInt(j, "retry_interval", &o->retry_interval));
  RETURN_IF_ERROR(json::GetBool(j, "concurrent", &o->concurrent));
  RETURN_IF_ERROR(json::GetInt(j, "retry_limit", &o->retry_limit));
  RETURN_IF_ERROR(json::GetInt(j, "retry_count", &o->retry_count));
  return ReadStringMap(j, "branch_headers", &o->branch_headers);
}

namespace {

bj::value TimeValue(UnixMs t) { return t ? bj::value(FormatRfc3339(t)) : bj::value(nullptr); }

void PutIf(bj::object& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

}  // namespace

std::string EncodeGlobalJson(const store::TransGlobal& g, const Redactor* redactor) {
  TransOptions o;  // options are shown flattened into the global, as DTM embeds them
  (void)DecodeOptions(g.options, &o);
  bool redacted = false;
  if (redactor != nullptr) {
    for (auto& [k, v] : o.branch_headers) {
      if (redactor->IsSecret(k)) {
        v = kRedacted;
        redacted = true;
      }
    }
  }
  bj::object j;
  j["id"] = g.id;
  j["create_time"] = TimeValue(g.create_time);
  j["update_time"] = TimeValue(g.update_time);
  PutIf(j, "gid", g.gid);
  PutIf(j, "trans_type", g.trans_type);
  PutIf(j, "status", g.status);
  PutIf(j, "query_prepared", g.query_prepared);
  PutIf(j, "protocol", g.protocol);
  if (g.finish_time) j["finish_time"] = TimeValue(g.finish_time);
  if (g.rollback_time) j["rollback_time"] = TimeValue(g.rollback_time);
  PutIf(j, "result", g.result);
  PutIf(j, "rollback_reason", g.rollback_reason);
  PutIf(j, "options", redacted ? EncodeOptions(o) : g.options);
  PutIf(j, "custom_data", g.custom_data);
  if (g.next_cron_interval) j["next_cron_interval"] = g.next_cron_interval;
  if (g.next_cron_time) j["next_cron_time"] = TimeValue(g.next_cron_time);
  PutIf(j, "owner", g.owner);
  PutIf(j, "ext_data", g.ext_data);
  PutOptions(j, o);
  return bj::serialize(j);
}

std::string EncodeBranchJson(const store::TransBranch& b) {
  bj::object j;
  j["id"] = b.id;
  j["create_time"] = TimeValue(b.create_time);
  j["update_time"] = TimeValue(b.update_time);
  PutIf(j, "gid", b.gid);
  PutIf(j, "url", b.url);
  if (!b.bin_data.empty()) j["bin_data"] = Base64Encode(b.bin_data);
  PutIf(j, "branch_id", b.branch_id);
  PutIf(j, "op", b.op);
  PutIf(j, "status", b.status);
  if (b.finish_time) j["finish_time"] = TimeValue(b.finish_time);
  if (b.rollback_time) j["rollback_time"] = TimeValue(b.rollback_time);
  return bj::serialize(j);
}

std::string EncodeKvJson(const store::KV& kv) {
  bj::object j;
  j["id"] = kv.id;
  j["create_time"] = TimeValue(kv.create_time);
  j["update_time"] = TimeValue(kv.update_time);
  j["cat"] = kv.cat;
  j["k"] = kv.k;
  j["v"] = kv.v;
  j["version"] = kv.version;
  return bj::serialize(j);
}

std::string JsonQuote(std::string_view s) { return bj::serialize(bj::value(bj::string(s))); }

}  // namespace lynx::server
