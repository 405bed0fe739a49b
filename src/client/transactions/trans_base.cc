#include <lynx/dtm/trans_base.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <exception>

#include "client/transports/call_util.h"
#include "client/transports/grpc_request.h"
#include "client/transports/grpc_transport.h"
#include "client/transports/transport.h"

namespace lynx::dtm {

using internal::HttpRequest;

StatusOr<std::string> BranchIdGen::NewSubBranchId() {
  if (sub_branch_id_ >= 99) return Status::InvalidArgument("branch id is larger than 99");
  if (branch_id_.size() >= 20) return Status::InvalidArgument("total branch id is longer than 20");
  ++sub_branch_id_;
  return CurrentSubBranchId();
}

std::string BranchIdGen::CurrentSubBranchId() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d", sub_branch_id_);
  return branch_id_ + buf;
}

TransBase::TransBase(std::string server_url, std::string gid, std::string trans_type,
                     std::string parent_branch_id)
    : server_url_(std::move(server_url)),
      gid_(std::move(gid)),
      trans_type_(std::move(trans_type)),
      branch_ids_(std::move(parent_branch_id)),
      context_(EnsureTrace(Context())),
      transport_(internal::Transport::Default()) {}

void TransBase::SetContext(Context context) { context_ = EnsureTrace(context); }

TraceParent TransBase::trace() const { return TraceOf(context_).value_or(TraceParent{}); }

std::string TransBase::ToJson() const { return ToJsonWith(custom_data_); }

std::string TransBase::ToJsonWith(const std::string& custom_data) const {
  // Go's encoding/json of TransBase: declaration order, omitempty where Go has it.
  nlohmann::ordered_json o;
  o["gid"] = gid_;
  o["trans_type"] = trans_type_;
  if (!custom_data.empty()) o["custom_data"] = custom_data;
  if (options_.wait_result) o["wait_result"] = true;
  if (options_.timeout_to_fail != 0) o["timeout_to_fail"] = options_.timeout_to_fail;
  if (options_.request_timeout != 0) o["request_timeout"] = options_.request_timeout;
  if (options_.retry_interval != 0) o["retry_interval"] = options_.retry_interval;
  if (!options_.branch_headers.empty()) {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    for (const auto& [k, v] : options_.branch_headers) h[k] = v;  // sorted, as Go's maps
    o["branch_headers"] = std::move(h);
  }
  o["concurrent"] = options_.concurrent;
  if (options_.retry_limit != 0) o["retry_limit"] = options_.retry_limit;
  if (!steps_.empty()) {
    nlohmann::ordered_json a = nlohmann::ordered_json::array();
    for (const auto& step : steps_) {
      nlohmann::ordered_json s = nlohmann::ordered_json::object();
      for (const auto& [k, v] : step) s[k] = v;
      a.push_back(std::move(s));
    }
    o["steps"] = std::move(a);
  }
  if (!payloads_.empty()) o["payloads"] = payloads_;
  if (!query_prepared_.empty()) o["query_prepared"] = query_prepared_;
  o["protocol"] = protocol_;
  if (!rollback_reason_.empty()) o["rollback_reason"] = rollback_reason_;
  return o.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

void TransBase::UseGrpc(GrpcTlsOptions tls) {
  protocol_ = "grpc";
  grpc_tls_ = std::move(tls);
}

Status TransBase::CallDtm(const std::string& operation) const {
  if (!uses_grpc()) return CallDtmBody(operation, ToJson());
  const std::string method = internal::DtmGrpcMethod(operation);
  auto timeout = internal::CallTimeoutMs(context_, options_.request_timeout);
  if (!timeout.ok()) {
    return Status(timeout.status().code(), method + ": " + timeout.status().message());
  }
  return internal::GrpcCallDtm(server_url_, grpc_tls_, *timeout, method,
                               internal::BuildDtmRequest(*this), internal::TraceHeaders(context_));
}

Status TransBase::CallDtmBody(const std::string& operation, const std::string& body) const {
  auto reply = internal::CallDtmServer(*transport_, context_, server_url_, options_.request_timeout,
                                       "POST", operation, body);
  return reply.status();
}

Status TransBase::RegisterBranch(std::map<std::string, std::string> fields) const {
  if (uses_grpc()) {
    auto timeout = internal::CallTimeoutMs(context_, options_.request_timeout);
    if (!timeout.ok()) {
      return Status(timeout.status().code(), "RegisterBranch: " + timeout.status().message());
    }
    return internal::GrpcRegisterBranch(server_url_, grpc_tls_, *timeout,
                                        internal::BuildBranchRequest(gid_, trans_type_, fields),
                                        internal::TraceHeaders(context_));
  }
  fields["gid"] = gid_;
  fields["trans_type"] = trans_type_;
  Json body(fields);  // an object of strings, keys sorted (Go marshals its map the same way)
  return CallDtmBody("registerBranch", body.dump(-1, ' ', false, Json::error_handler_t::replace));
}

Status TransBase::RunGlobalTransaction(const std::function<Status()>& fn) {
  if (Status st = CallDtm("prepare"); !st.ok()) return st;
  auto abort = [this](std::string reason) {
    rollback_reason_ = std::move(reason);
    // As Go, the caller gets fn's result, not the abort's; a lost abort ends by timeout_to_fail.
    if (Status st = CallDtm("abort"); !st.ok()) {
      spdlog::warn("gid {}: abort failed: {}", gid_, st.message());
    }
  };
  Status result;
  try {
    result = fn();
  } catch (...) {
    std::exception_ptr e = std::current_exception();
    abort(internal::ExceptionText(e));
    std::rethrow_exception(e);
  }
  if (!result.ok()) {
    abort(result.message());
    return result;
  }
  return CallDtm("submit");
}

StatusOr<std::string> TransBase::RequestBranch(const std::string& method, const std::string& body,
                                               const std::string& branch_id, const std::string& op,
                                               const std::string& url) const {
  if (url.empty()) return std::string();  // Go: an empty URL is not called
  const bool is_http_url = url.starts_with("http://") || url.starts_with("https://");
  if (uses_grpc() && !is_http_url) return RequestGrpcBranch(body, branch_id, op, url);
  if (!uses_grpc() && IsGrpcTarget(url)) {
    return Status::InvalidArgument("'" + url + "' is a gRPC branch URL but transaction " + gid_ +
                                   " uses HTTP (create it with the gRPC constructors)");
  }
  // Go's resty encodes the query sorted by key.
  internal::HeaderList query = {
      {"branch_id", branch_id}, {"dtm", server_url_}, {"gid", gid_}, {"op", op}};
  if (trans_type_ == "xa") query.emplace_back("phase2_url", url);
  query.emplace_back("trans_type", trans_type_);
  HttpRequest req;
  req.method = method;
  req.url = internal::AppendQuery(url, query);
  if (method != "GET") req.headers.emplace_back("Content-Type", "application/json");
  for (const auto& [k, v] : options_.branch_headers) req.headers.emplace_back(k, v);
  req.body = body;
  auto reply = internal::SendToBranch(*transport_, context_, options_.request_timeout,
                                      std::move(req), op + " " + url);
  if (!reply.ok()) return reply.status();
  Status st = internal::ClassifyBranchReply(reply->status, reply->body);
  if (!st.ok()) return st;
  return std::move(reply->body);
}

StatusOr<std::string> TransBase::RequestGrpcBranch(const std::string& body,
                                                   const std::string& branch_id,
                                                   const std::string& op,
                                                   const std::string& url) const {
  auto timeout = internal::CallTimeoutMs(context_, options_.request_timeout);
  if (!timeout.ok()) {
    return Status(timeout.status().code(), op + " " + url + ": " + timeout.status().message());
  }
  // XA branches learn their phase-2 target (their own URL) from dtm-phase2_url.
  const std::string phase2_url = trans_type_ == "xa" ? url : "";
  GrpcMetadata md =
      internal::BranchCallMetadata(gid_, trans_type_, branch_id, op, server_url_, phase2_url,
                                   options_.branch_headers, internal::TraceHeaders(context_));
  return internal::GrpcCallBranch(url, md, body, *timeout);
}

}  // namespace lynx::dtm
