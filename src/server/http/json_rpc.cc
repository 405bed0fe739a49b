#include "server/http/json_rpc.h"

#include <boost/json.hpp>

#include <optional>

#include "common/json_util.h"
#include "server/api.h"
#include "server/trans_codec.h"

namespace lynx::server {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

constexpr int kParseError = -32700;
constexpr int kBadRequest = -32600;
constexpr int kNoMethod = -32601;
constexpr int kInternal = -32603;
constexpr int kFailure = -32901;
constexpr int kOngoing = -32902;

struct RpcError {
  int code;
  std::string message;
};

std::string Reply(const std::string& id, const bj::value& result,
                  const std::optional<RpcError>& error) {
  bj::object o;
  o["jsonrpc"] = "2.0";
  o["id"] = id;
  if (error) {
    o["error"] = bj::object{{"code", error->code}, {"message", error->message}};
  } else {
    o["error"] = nullptr;
  }
  o["result"] = result;
  return bj::serialize(o);
}

std::optional<RpcError> FromStatus(const Status& st) {
  switch (st.code()) {
    case StatusCode::kOk:
      return std::nullopt;
    case StatusCode::kFailure:
      return RpcError{kFailure, WithDtmSuffix(st.message(), StatusCode::kFailure)};
    case StatusCode::kOngoing:
      return RpcError{kOngoing, WithDtmSuffix(st.message(), StatusCode::kOngoing)};
    default:
      return RpcError{kInternal, st.message()};
  }
}

// A string member, "" when absent; false when present with another type (a parse error, as
// DTM's typed decoding has it).
bool StringField(const bj::object& o, std::string_view key, std::string* out) {
  const bj::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) return false;
  *out = std::string(v->get_string());
  return true;
}

}  // namespace

asio::awaitable<std::string> HandleJsonRpc(Api& api, std::string_view body) {
  auto parsed = json::Parse(body);
  if (!parsed.ok() || !parsed->is_object()) {
    co_return Reply(
        "", nullptr,
        RpcError{kParseError, "Parse json error: " + (parsed.ok() ? std::string("not an object")
                                                                  : parsed.status().message())});
  }
  const bj::object& req = parsed->get_object();
  std::string id, version, method;
  if (!StringField(req, "id", &id) || !StringField(req, "jsonrpc", &version) ||
      !StringField(req, "method", &method)) {
    co_return Reply("", nullptr,
                    RpcError{kParseError, "Parse json error: id, jsonrpc and method are strings"});
  }
  if (id.empty() || version != "2.0") {
    co_return Reply(
        id, nullptr,
        RpcError{kBadRequest,
                 "Bad json request: id must be a non-empty string and jsonrpc \"2.0\""});
  }
  const bj::value* params_value = req.if_contains("params");
  const std::string params = params_value ? bj::serialize(*params_value) : "null";
  if (method == "newGid") {
    co_return Reply(id, bj::object{{"gid", api.NewGid()}}, std::nullopt);
  }
  Status st;
  if (method == "prepare" || method == "submit" || method == "abort") {
    auto t = DecodeTransRequest(params, method != "abort");
    if (!t.ok()) {
      st = t.status();
    } else if (method == "prepare") {
      st = co_await api.Prepare(std::move(*t));
    } else if (method == "submit") {
      st = co_await api.Submit(std::move(*t));
    } else {
      st = co_await api.Abort(std::move(*t));
    }
  } else if (method == "registerBranch") {
    auto reg = DecodeBranchRegistration(params);
    // (if/else: GCC 12 miscompiles a co_await inside a conditional expression)
    if (reg.ok()) {
      st = co_await api.RegisterBranch(std::move(*reg));
    } else {
      st = reg.status();
    }
  } else {
    co_return Reply(id, nullptr, RpcError{kNoMethod, "Method not found: " + method});
  }
  co_return Reply(id, nullptr, FromStatus(st));
}

}  // namespace lynx::server
