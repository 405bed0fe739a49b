// How dtmd calls a JSON-RPC branch (dtm-protocol.md §4.3): a transaction of protocol "json-rpc"
// whose branch URL is http(s) and names a `method` gets a POST of
// {"jsonrpc":"2.0","method":<the URL's method=>,"id":<new id>,"params":P}, where P is the stored
// payload (a JSON object; empty means {}) with gid, trans_type, branch_id and op set. The reply is
// judged as an HTTP reply first, then by its `error`: code -32901 is FAILURE, -32902 ONGOING, any
// other error a retryable error. Codes are compared as numbers (DTM compares a float with an int
// and so never recognises them). Boost-free header.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"

namespace lynx::server {

struct BranchCall;

// Whether this call goes out as JSON-RPC (protocol json-rpc and a URL mentioning "method").
bool IsJsonRpcBranch(const BranchCall& call);

// The request body; InvalidArgument when the stored payload is not a JSON object.
StatusOr<std::string> JsonRpcBranchBody(const BranchCall& call, const std::string& id);

// The verdict on a reply body that passed the HTTP rules.
Status ClassifyJsonRpcReply(std::string_view body);

}  // namespace lynx::server
