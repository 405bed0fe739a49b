#include "client/transactions/workflow_progress.h"

#include <nlohmann/json.hpp>

#include "common/base64.h"

namespace lynx::dtm::internal {

namespace {

constexpr char kRecordPrefix[] = "lynx-wf ";

using nlohmann::json;

// A string member of `o`; "" when missing or null; an error for any other type.
StatusOr<std::string> StringField(const json& o, const char* key, const char* where) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    return Status::Internal(std::string("prepareWorkflow reply: ") + where + "." + key +
                            " is not a string");
  }
  return it->get<std::string>();
}

StatusOr<std::string> DecodeResult(const std::string& b64) {
  auto decoded = Base64Decode(b64);
  if (!decoded.ok()) return Status::Internal("prepareWorkflow reply: result is not base64");
  return std::move(*decoded);
}

}  // namespace

StatusOr<WorkflowProgress> ParseProgressJson(const std::string& body) {
  json v = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded() || !v.is_object()) {
    return Status::Internal("prepareWorkflow reply is not a JSON object: " + body.substr(0, 200));
  }
  auto t = v.find("transaction");
  if (t == v.end() || !t->is_object()) {
    return Status::Internal("prepareWorkflow reply has no transaction: " + body.substr(0, 200));
  }
  WorkflowProgress out;
  auto status = StringField(*t, "status", "transaction");
  auto reason = StringField(*t, "rollback_reason", "transaction");
  auto result = StringField(*t, "result", "transaction");
  for (const auto* f : {&status, &reason, &result}) {
    if (!f->ok()) return f->status();
  }
  out.status = std::move(*status);
  out.rollback_reason = std::move(*reason);
  auto decoded = DecodeResult(*result);
  if (!decoded.ok()) return decoded.status();
  out.result = std::move(*decoded);
  auto p = v.find("progresses");
  if (p == v.end() || p->is_null()) return out;
  if (!p->is_array()) return Status::Internal("prepareWorkflow reply: progresses is not an array");
  for (const json& e : *p) {
    if (!e.is_object()) return Status::Internal("prepareWorkflow reply: a progress is no object");
    WorkflowProgress::Step s;
    auto branch = StringField(e, "branch_id", "progress");
    auto op = StringField(e, "op", "progress");
    auto st = StringField(e, "status", "progress");
    auto data = StringField(e, "bin_data", "progress");
    for (const auto* f : {&branch, &op, &st, &data}) {
      if (!f->ok()) return f->status();
    }
    auto bin = Base64Decode(*data);
    if (!bin.ok()) return Status::Internal("prepareWorkflow reply: bin_data is not base64");
    out.steps.push_back({std::move(*branch), std::move(*op), std::move(*st), std::move(*bin)});
  }
  return out;
}

StatusOr<WorkflowProgress> FromProgressReply(const dtmgimp::DtmProgressesReply& reply) {
  WorkflowProgress out;
  out.status = reply.transaction().status();
  out.rollback_reason = reply.transaction().rollbackreason();
  auto decoded = DecodeResult(reply.transaction().result());
  if (!decoded.ok()) return decoded.status();
  out.result = std::move(*decoded);
  for (const auto& p : reply.progresses()) {
    out.steps.push_back({p.branchid(), p.op(), p.status(), p.bindata()});
  }
  return out;
}

std::string EncodeStepRecord(const std::string& kind, const std::string& data) {
  std::string k = kind;
  for (char& c : k) {
    if (c == '\n') c = ' ';
  }
  return kRecordPrefix + k + "\n" + data;
}

StepRecord DecodeStepRecord(const std::string& bin_data) {
  const std::string prefix = kRecordPrefix;
  if (bin_data.rfind(prefix, 0) != 0) return {"", bin_data};
  const size_t nl = bin_data.find('\n', prefix.size());
  if (nl == std::string::npos) return {"", bin_data};
  return {bin_data.substr(prefix.size(), nl - prefix.size()), bin_data.substr(nl + 1)};
}

}  // namespace lynx::dtm::internal
