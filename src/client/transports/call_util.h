// Internal helpers shared by the transactions, the helper and the plugin: call timeouts bounded by
// the context, calls to the DTM server with the SDK's reply rules, pass-through headers.
#pragma once

#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include <lynx/context.h>
#include <lynx/status.h>

#include "client/transports/transport.h"

namespace lynx::dtm::internal {

// Used when a transaction has no request_timeout (Go: no limit) and the context no deadline.
inline constexpr int64_t kUnlimitedCallTimeoutMs = 300'000;

// request_timeout seconds (or kUnlimitedCallTimeoutMs when 0), cut to what is left of the context;
// the context's Err() when it is already done.
StatusOr<int64_t> CallTimeoutMs(const Context& ctx, int64_t request_timeout_s);

// The context's trace (trace.h) as headers / gRPC metadata: traceparent and, when set,
// tracestate; empty when the context carries none. Every call to DTM and to a branch sends them.
HeaderList TraceHeaders(const Context& ctx);

// Adds the SDK's User-Agent and sends.
StatusOr<HttpReply> SendWithUserAgent(Transport& transport, HttpRequest request);
// A call from this SDK to a branch: request_timeout_s (cut to the context) as its timeout, the
// User-Agent; a transport error's message starts with `what` (e.g. "action <url>").
StatusOr<HttpReply> SendToBranch(Transport& transport, const Context& ctx,
                                 int64_t request_timeout_s, HttpRequest request,
                                 const std::string& what);

// How a reply of DTM is judged: kResult by ClassifyDtmReply (a "FAILURE" in a 200 body is a
// failure), kData by its status only, since the body is data that may contain any word (GETs
// such as newGid and query always are; so is prepareWorkflow's progress).
enum class DtmReply { kResult, kData };

// `method` {server_url}/{operation} (operation may carry a query). Transport errors become
// Unavailable naming the server. Returns the reply body.
StatusOr<std::string> CallDtmServer(Transport& transport, const Context& ctx,
                                    const std::string& server_url, int64_t request_timeout_s,
                                    const std::string& method, const std::string& operation,
                                    const std::string& body,
                                    DtmReply reply_kind = DtmReply::kResult);
// Same with an explicit timeout (ms), still cut to the context.
StatusOr<std::string> CallDtmServerMs(Transport& transport, const Context& ctx,
                                      const std::string& server_url, int64_t timeout_ms,
                                      const std::string& method, const std::string& operation,
                                      const std::string& body,
                                      DtmReply reply_kind = DtmReply::kResult);

// The headers of `incoming` named in `names` (case-insensitive match, the configured spelling is
// kept), then `custom` on top (custom wins, also over a pass-through name that differs only in
// case).
std::map<std::string, std::string> MergeBranchHeaders(
    const std::vector<std::string>& names, const std::map<std::string, std::string>& incoming,
    const std::map<std::string, std::string>& custom);

// The gid of a newGid reply ({"gid":"...","dtm_result":"SUCCESS"}).
StatusOr<std::string> ParseNewGidReply(const std::string& body);
struct QueriedStatus {
  std::string status;  // prepared | submitted | aborting | succeed | failed
  std::string rollback_reason;
};
// transaction.status (+ rollback_reason) of a query reply; NotFound when the transaction is null.
StatusOr<QueriedStatus> ParseQueryReply(const std::string& body, const std::string& gid);

// The what() of an exception in flight ("unknown exception" for non-std ones).
std::string ExceptionText(const std::exception_ptr& e);

}  // namespace lynx::dtm::internal
