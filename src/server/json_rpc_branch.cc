#include "server/json_rpc_branch.h"

#include <boost/json.hpp>
#include <boost/url/parse.hpp>

#include "common/json_util.h"
#include "server/branch_caller.h"

namespace lynx::server {

namespace bj = boost::json;

bool IsJsonRpcBranch(const BranchCall& call) {
  return call.protocol == "json-rpc" && call.url.find("method") != std::string::npos;
}

StatusOr<std::string> JsonRpcBranchBody(const BranchCall& call, const std::string& id) {
  bj::object params;
  if (!call.body.empty()) {
    auto parsed = json::Parse(call.body);
    if (!parsed.ok() || !parsed->is_object()) {
      return Status::InvalidArgument("JSON-RPC branch " + call.url +
                                     ": the payload must be a JSON object");
    }
    params = std::move(parsed->get_object());
  }
  params["gid"] = call.gid;
  params["trans_type"] = call.trans_type;
  params["branch_id"] = call.branch_id;
  params["op"] = call.op;
  std::string method;
  if (auto u = boost::urls::parse_uri_reference(call.url); u) {
    for (const auto& p : u->params()) {
      if (p.key == "method") {
        method = p.value;
        break;
      }
    }
  }
  bj::object req{{"jsonrpc", "2.0"}, {"method", method}, {"id", id}};
  req["params"] = std::move(params);
  return bj::serialize(req);
}

Status ClassifyJsonRpcReply(std::string_view body) {
  auto parsed = json::Parse(body);
  if (!parsed.ok() || !parsed->is_object()) {
    return Status::Unavailable("JSON-RPC reply is not a JSON object");
  }
  const bj::value* error = parsed->get_object().if_contains("error");
  if (error == nullptr || error->is_null()) return Status::Ok();
  std::string text = bj::serialize(*error);
  if (error->is_object()) {
    const bj::value* code = error->get_object().if_contains("code");
    if (code != nullptr && code->is_number()) {
      boost::system::error_code ec;
      const double c = code->to_number<double>(ec);
      if (!ec && c == -32901) return Status::Failure(WithDtmSuffix(text, StatusCode::kFailure));
      if (!ec && c == -32902) return Status::Ongoing(WithDtmSuffix(text, StatusCode::kOngoing));
    }
  }
  return Status::Internal("JSON-RPC error: " + text);
}

}  // namespace lynx::server
