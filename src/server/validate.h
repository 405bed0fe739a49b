// Validation at the edge: every request that creates or changes stored data passes these checks
// in the API core (whichever front-end decoded it) before anything is written, so that no stored
// row can later crash, stall or mislead a branch call, the cron or another transaction. The rules
// and their limits are listed in docs/limits.md. Boost-free header.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "server/limits.h"
#include "server/trans.h"

namespace lynx::server {

bool IsPrintableAscii(std::string_view s);  // bytes 0x20..0x7e only
bool IsValidUtf8(std::string_view s);       // well-formed UTF-8 (no overlongs, no surrogates)
// `s` with every byte that does not start a well-formed UTF-8 sequence, and every NUL, replaced by
// '?': for text from the network that goes into text columns and JSON (neither takes them).
std::string ToValidUtf8(std::string_view s);
bool IsHttpToken(std::string_view s);  // RFC 9110 token: a header field name

// A gid: non-empty, at most kMaxIdLength bytes, valid UTF-8 without control characters (DTM
// allows any text; a gRPC transaction's gid must also be printable ASCII, see CheckTrans).
Status CheckGid(std::string_view gid);
// A branch id (or another id sent as gRPC metadata): non-empty, printable ASCII, at most
// kMaxIdLength bytes. `what` names the field in the error.
Status CheckId(std::string_view what, std::string_view id);

// branch_headers: names are RFC 9110 tokens (for a gRPC transaction also valid gRPC metadata
// keys: [0-9a-z_.-] once lower-cased, not "grpc-*"), values printable ASCII (no CR, LF, NUL),
// everything together within limits.max_branch_header_bytes.
Status CheckBranchHeaders(const StringMap& headers, bool grpc, const Limits& limits);

// A branch URL as stored: empty (no call), http(s)://host..., or host:port/Service/Method;
// printable ASCII without spaces, at most 4096 bytes.
Status CheckBranchUrl(std::string_view what, std::string_view url);

// Options within range: durations in [0, kMaxOptionSeconds], retry_limit/count non-negative.
Status CheckOptions(const TransOptions& o);

// A new or submitted transaction (prepare / submit): options, branch headers, step URLs, the
// custom_data of its type (saga `orders`/`concurrent`, msg `delay`), the step count, and for a
// gRPC transaction a printable ASCII gid (it travels as gRPC metadata).
Status CheckTrans(const Trans& t, const Limits& limits);

// A workflow's submit (req_extra): status succeed or failed; result and rollback_reason at most
// kMaxOutcomeBytes each (the SQL stores' column size, DTM's schema), so every store keeps them.
inline constexpr size_t kMaxOutcomeBytes = 1024;
Status CheckWorkflowOutcome(const StringMap& req_extra);

// registerBranch: branch id, URLs.
Status CheckRegistration(const BranchRegistration& r);

class UrlPolicy;
// Every URL of the transaction (step action/compensate, query_prepared) against the branch-URL
// policy; a URL without scheme is a gRPC target only in a gRPC transaction.
Status CheckTransUrls(const Trans& t, const UrlPolicy& policy);
// registerBranch's URLs (url, confirm, cancel, phase2_url) against the policy (the global's
// protocol is checked again at call time).
Status CheckRegistrationUrls(const BranchRegistration& r, const UrlPolicy& policy);

// subscribe: topic, url and remark are valid UTF-8 (they are stored inside a JSON document), the
// topic printable ASCII, the url a branch URL.
Status CheckSubscription(std::string_view topic, std::string_view url, std::string_view remark);

}  // namespace lynx::server
