// Fuzz target: dtmd's gRPC request decoding (grpc/grpc_codec.h): the bytes of a DtmRequest or a
// DtmBranchRequest as they arrive on the gRPC port, parsed by protobuf and turned into the API's
// structs with the same checks as the HTTP decoders, then the edge checks.
#include <cstddef>
#include <cstdint>

#include "proto/dtmgimp.pb.h"
#include "server/grpc/grpc_codec.h"
#include "server/limits.h"
#include "server/validate.h"

using namespace lynx::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dtmgimp::DtmRequest req;
  if (req.ParseFromArray(data, static_cast<int>(size))) {
    for (bool require_type : {true, false}) {
      auto t = TransFromGrpc(req, require_type);
      if (t.ok()) (void)CheckTrans(*t, Limits{});
    }
  }
  dtmgimp::DtmBranchRequest branch;
  if (branch.ParseFromArray(data, static_cast<int>(size))) {
    (void)BranchRegistrationFromGrpc(branch);
  }
  return 0;
}
