#include "server/branch_caller.h"

#include <cctype>

#include "common/ascii.h"
#include "common/http_client.h"
#include "common/shortuuid.h"
#include "server/grpc/grpc_branch_caller.h"
#include "server/json_rpc_branch.h"
#include "server/security/redact.h"
#include "server/security/url_policy.h"

namespace lynx::server {

std::function<Status(const std::string&, const std::string&, uint16_t)> PolicyAddressCheck(
    const UrlPolicy& policy) {
  return [&policy](const std::string& host, const std::string& address, uint16_t port) {
    IpBytes ip;
    if (!ParseIp(address, &ip)) return Status::InvalidArgument("unreadable address " + address);
    UrlTarget target;
    target.kind = UrlTarget::Kind::kHttp;
    target.host = host;
    target.host = AsciiLower(target.host);
    target.port = port;
    Status st = policy.CheckAddress(target, ip, address);
    if (!st.ok()) {
      return Status::InvalidArgument("branch host '" + host +
                                     "' refused by BranchUrlPolicy: " + st.message());
    }
    return st;
  };
}

NetBranchCaller::NetBranchCaller(http::ClientPool& pool, GrpcBranchCaller& grpc,
                                 const UrlPolicy* policy, size_t max_quoted_bytes)
    : pool_(pool), grpc_(grpc), policy_(policy), max_quoted_bytes_(max_quoted_bytes) {
  if (policy_ != nullptr) address_check_ = PolicyAddressCheck(*policy_);
}

boost::asio::awaitable<Status> NetBranchCaller::Call(const BranchCall& call) {
  if (call.url.empty()) co_return Status::Ok();
  if (policy_ != nullptr) {
    const bool is_http = call.url.rfind("http://", 0) == 0 || call.url.rfind("https://", 0) == 0;
    auto target = policy_->CheckUrl("branch URL", call.url, !is_http && call.protocol != "http");
    if (!target.ok()) co_return target.status();
  }
  co_return LimitQuotedMessage(co_await Dispatch(call), max_quoted_bytes_);
}

boost::asio::awaitable<Status> NetBranchCaller::Dispatch(const BranchCall& call) {
  const bool is_http = call.url.rfind("http://", 0) == 0 || call.url.rfind("https://", 0) == 0;
  if (is_http || call.protocol == "http") {
    if (IsJsonRpcBranch(call)) co_return co_await CallJsonRpc(call);
    co_return co_await CallHttp(call);
  }
  co_return co_await grpc_.Call(call);
}

boost::asio::awaitable<Status> NetBranchCaller::CallJsonRpc(const BranchCall& call) {
  auto body = JsonRpcBranchBody(call, NewShortUuid());
  if (!body.ok()) co_return body.status();
  http::ClientRequest req;
  req.method = "POST";
  req.url = call.url;
  req.headers.emplace_back("Content-Type", "application/json");
  if (call.headers != nullptr) {
    for (const auto& [k, v] : *call.headers) req.headers.emplace_back(k, v);
  }
  for (const auto& [k, v] : call.trace_headers) req.headers.emplace_back(k, v);
  req.body = std::move(*body);
  req.timeout_ms = call.timeout_ms;
  if (address_check_) req.address_check = &address_check_;
  auto res = co_await pool_.Send(std::move(req));
  if (!res.ok()) co_return res.status();
  if (call.reply_code != nullptr) *call.reply_code = res->status;
  if (Status st = ClassifyHttpReply(res->status, res->body); !st.ok()) co_return st;
  co_return ClassifyJsonRpcReply(res->body);
}

boost::asio::awaitable<Status> NetBranchCaller::CallHttp(const BranchCall& call) {
  http::ClientRequest req;
  req.method = (!call.body.empty() || call.trans_type == "xa") ? "POST" : "GET";
  req.url = http::AppendQuery(call.url, {{"gid", call.gid},
                                         {"trans_type", call.trans_type},
                                         {"branch_id", call.branch_id},
                                         {"op", call.op}});
  req.headers.emplace_back("Content-Type", "application/json");
  if (call.headers != nullptr) {
    for (const auto& [k, v] : *call.headers) req.headers.emplace_back(k, v);
  }
  for (const auto& [k, v] : call.trace_headers) req.headers.emplace_back(k, v);
  req.body = call.body;
  req.timeout_ms = call.timeout_ms;
  if (address_check_) req.address_check = &address_check_;
  auto res = co_await pool_.Send(std::move(req));
  if (!res.ok()) co_return res.status();
  if (call.reply_code != nullptr) *call.reply_code = res->status;
  co_return ClassifyHttpReply(res->status, res->body);
}

}  // namespace lynx::server
