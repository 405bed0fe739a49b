// DTM's JSON-RPC endpoint (dtm-protocol.md §2.13): POST /api/json-rpc on the HTTP port. Methods
// newGid, prepare, submit, abort and registerBranch take the HTTP API's bodies as `params` and run
// the same Api operations (so the same edge checks and URL policy). The HTTP status is always
// 200; the body is {"jsonrpc":"2.0","id":id,"error":null|{"code","message"},"result":r} with
// DTM's codes: -32700 parse error, -32600 bad request (id not a non-empty string, jsonrpc not
// "2.0"), -32601 unknown method, -32901 FAILURE, -32603 anything else; and -32902 for ONGOING
// (a wait_result submit whose transaction is not finished), the code DTM's SDKs read as ONGOING.
#pragma once

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>

namespace lynx::server {

class Api;

boost::asio::awaitable<std::string> HandleJsonRpc(Api& api, std::string_view body);

}  // namespace lynx::server
