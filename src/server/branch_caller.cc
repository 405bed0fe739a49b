#include "server/branch_caller.h"

#include "common/http_client.h"
#include "server/grpc/grpc_branch_caller.h"

namespace lynx::server {

boost::asio::awaitable<Status> NetBranchCaller::Call(const BranchCall& call) {
  if (call.url.empty()) co_return Status::Ok();
  const bool is_http = call.url.rfind("http://", 0) == 0 || call.url.rfind("https://", 0) == 0;
  if (is_http || call.protocol == "http") co_return co_await CallHttp(call);
  co_return co_await grpc_.Call(call);
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
  req.body = call.body;
  req.timeout_ms = call.timeout_ms;
  auto res = co_await pool_.Send(std::move(req));
  if (!res.ok()) co_return res.status();
  co_return ClassifyHttpReply(res->status, res->body);
}

}  // namespace lynx::server
