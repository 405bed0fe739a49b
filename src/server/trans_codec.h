// JSON <-> transaction conversions of the HTTP API (dtm-protocol.md §2.3, §2.9), and request
// validation (gid rules, types, steps/payloads). Boost-free header.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "server/trans.h"

namespace lynx::server {

// DTM's Escape: removes \n, \r and ';'. Then rejects what CheckGid rejects (server/validate.h).
Status CheckAndEscapeGid(std::string* gid);

// Decodes a transaction request body (prepare/submit/abort/forceStop/resetNextCronTime).
// `require_type` demands a known trans_type. Builds bin_payloads as DTM does (payloads, then
// legacy steps[].data) and checks that every step has its payload.
StatusOr<Trans> DecodeTransRequest(std::string_view body, bool require_type);
StatusOr<BranchRegistration> DecodeBranchRegistration(std::string_view body);
// The checks every decoded request passes, whichever front-end decoded it: escapes the gid, then
// trans_type (when required), protocol (empty -> http), option ranges, a payload per step,
// custom_data a JSON object. The limits and the rest of the edge checks are in Api (CheckTrans).
Status CheckTransRequest(Trans* t, bool require_type);
// The steps array as text (gRPC's DtmRequest.Steps): "" and "null" are no steps.
StatusOr<std::vector<StringMap>> DecodeStepsText(std::string_view text);

// Options column: DTM's JSON (always has "concurrent"; other fields omitted when zero).
std::string EncodeOptions(const TransOptions& o);
Status DecodeOptions(std::string_view text, TransOptions* o);

class Redactor;
// Response JSON of /query, /all: globals and branches as DTM shows them; with a redactor, the
// values of secret branch_headers read "[redacted]" (in the options text and the flat fields).
std::string EncodeGlobalJson(const store::TransGlobal& g, const Redactor* redactor = nullptr);
std::string EncodeBranchJson(const store::TransBranch& b);
std::string EncodeKvJson(const store::KV& kv);

// A JSON string literal (with quotes) of s.
std::string JsonQuote(std::string_view s);

bool IsKnownTransType(const std::string& t);

}  // namespace lynx::server
