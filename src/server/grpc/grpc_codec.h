// dtmgimp request messages -> the core's plain structs (dtm-protocol.md §3.1), with the same
// checks as the HTTP front-end (trans_codec.h). Protocol is forced to "grpc"; BinPayloads are the
// step payloads as they are (the legacy steps[].data is not read over gRPC); Steps is JSON text.
#pragma once

#include "common/status.h"
#include "server/trans.h"

namespace dtmgimp {
class DtmRequest;
class DtmBranchRequest;
}  // namespace dtmgimp

namespace lynx::server {

StatusOr<Trans> TransFromGrpc(const dtmgimp::DtmRequest& req, bool require_type);
// BusiPayload becomes the stored branch body (data["data"]); Data holds confirm/cancel or url.
StatusOr<BranchRegistration> BranchRegistrationFromGrpc(const dtmgimp::DtmBranchRequest& req);

}  // namespace lynx::server
