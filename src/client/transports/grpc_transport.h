// The client's gRPC transport (dtm-protocol.md §3): blocking calls to DTM's dtmgimp.Dtm service
// and raw-bytes calls to gRPC branches, over channels cached for the whole process, and DTM's
// mapping of gRPC status codes to results (Go's GrpcError2DtmError).
// Why a process-wide cache: a grpc::Channel is expensive to create (a connection, TLS handshake)
// and cheap to share; transactions are short-lived values created without a DTMClient, so the
// channels cannot live in them. The cache is never destroyed (gRPC must not be torn down by a
// static destructor while another static still holds a channel); channels reconnect by
// themselves after the peer restarts.
// Thread-safe.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include <lynx/dtm/grpc.h>
#include <lynx/status.h>

#include "client/transports/transport.h"
#include "proto/dtmgimp.pb.h"

namespace lynx::dtm::internal {

// A gRPC branch URL split at its first '/': the dial target "host:port" and the full method
// "/pkg.Service/Method".
struct GrpcBranchUrl {
  std::string target;
  std::string method;
};
// InvalidArgument for a URL with "://" (no discovery drivers here) or without '/'.
StatusOr<GrpcBranchUrl> SplitGrpcUrl(const std::string& url);

// The cached channel to `target` with `tls` (plaintext when !tls.enabled). InvalidArgument naming
// the file when a TLS file cannot be read; InvalidArgument for an empty target.
StatusOr<std::shared_ptr<grpc::Channel>> GrpcChannel(const std::string& target,
                                                     const GrpcTlsOptions& tls);

// Go's GrpcError2DtmError plus transport errors: ABORTED -> Failure (its message with DTM's
// " FAILURE" suffix; exactly "ONGOING" -> Ongoing, from DTM before v1.10), FAILED_PRECONDITION
// -> Ongoing, UNAVAILABLE / DEADLINE_EXCEEDED / CANCELLED -> Unavailable, INVALID_ARGUMENT ->
// InvalidArgument, anything else -> Internal. Every message but the DTM results' names `what`
// (the call: target and method) and the code.
Status FromGrpcStatus(const grpc::Status& status, const std::string& what);
// "ABORTED", "UNAVAILABLE", ...
std::string GrpcCodeName(grpc::StatusCode code);

// DTM's full method names for the transaction operations of the HTTP API ("prepare" ->
// "Prepare", "submit" -> "Submit", "abort" -> "Abort"); "" for anything else.
std::string DtmGrpcMethod(const std::string& operation);

// Calls to DTM send `trace` (call_util.h TraceHeaders) as metadata besides the bearer token.
// /dtmgimp.Dtm/{Prepare,Submit,Abort} (`method` as DtmGrpcMethod gives it).
Status GrpcCallDtm(const std::string& server, const GrpcTlsOptions& tls, int64_t timeout_ms,
                   const std::string& method, const dtmgimp::DtmRequest& request,
                   const HeaderList& trace = {});
// /dtmgimp.Dtm/PrepareWorkflow: the workflow's transaction and recorded progress.
StatusOr<dtmgimp::DtmProgressesReply> GrpcPrepareWorkflow(const std::string& server,
                                                          const GrpcTlsOptions& tls,
                                                          int64_t timeout_ms,
                                                          const dtmgimp::DtmRequest& request,
                                                          const HeaderList& trace = {});
// /dtmgimp.Dtm/RegisterBranch.
Status GrpcRegisterBranch(const std::string& server, const GrpcTlsOptions& tls, int64_t timeout_ms,
                          const dtmgimp::DtmBranchRequest& request, const HeaderList& trace = {});
// /dtmgimp.Dtm/NewGid: the gid (an empty one is an error).
StatusOr<std::string> GrpcNewGid(const std::string& server, const GrpcTlsOptions& tls,
                                 int64_t timeout_ms);

// The metadata of a call from this SDK to a branch (§3.3): dtm-gid, dtm-trans_type,
// dtm-branch_id, dtm-op, dtm-dtm, dtm-phase2_url (only when non-empty), then every branch header
// with its key lower-cased (gRPC keys are lower-case; a header never replaces a dtm-* key), then
// the call's `trace` (traceparent, tracestate).
GrpcMetadata BranchCallMetadata(const std::string& gid, const std::string& trans_type,
                                const std::string& branch_id, const std::string& op,
                                const std::string& dtm, const std::string& phase2_url,
                                const std::map<std::string, std::string>& branch_headers,
                                const HeaderList& trace = {});
// InvalidArgument when a key is not a valid gRPC metadata key (lower-case letters, digits, '-',
// '_', '.') or a value of a non-"-bin" key has characters outside printable ASCII: gRPC would
// refuse the call with a less helpful error.
Status ValidateGrpcMetadata(const GrpcMetadata& metadata);

// Unary call of `url` ("host:port/pkg.Service/Method", plaintext) with `body` as the request
// message's bytes and `metadata`; the reply message's bytes, or FromGrpcStatus's result.
StatusOr<std::string> GrpcCallBranch(const std::string& url, const GrpcMetadata& metadata,
                                     const std::string& body, int64_t timeout_ms);

}  // namespace lynx::dtm::internal
