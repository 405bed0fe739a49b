// Serving branch handlers over gRPC, the counterpart of HttpBranchServer for gRPC branch URLs
// ("host:port/pkg.Service/Method", dtm-protocol.md §3.4). Methods are served generically: a
// handler gets the request message's bytes and the call's metadata and returns the reply
// message's bytes, so no generated service code is needed and no gRPC or protobuf type appears
// here. The call's status is what DTM reads (Go's DtmError2GrpcError; see GrpcCodeFor):
//   Ok -> OK        Failure -> ABORTED (message = the status's)    Ongoing -> FAILED_PRECONDITION
//   InvalidArgument -> INVALID_ARGUMENT     anything else, or an exception -> INTERNAL
//   a method without a handler -> UNIMPLEMENTED
// DTM retries every code but ABORTED (the branch failed) and FAILED_PRECONDITION (ongoing).
//   lynx::dtm::GrpcBranchServer server({.port = 58081});
//   server.Handle("/busi.Busi/TransOut", [&](const lynx::dtm::GrpcBranchRequest& req)
//                                            -> lynx::StatusOr<std::string> {
//     busi::ReqGrpc msg;
//     if (auto st = req.ParseBody(&msg); !st.ok()) return st;
//     auto bb = req.Barrier();
//     if (!bb.ok()) return bb.status();
//     auto st = handler.HandleSAGA(*bb, [&](lynx::dtm::SqlDb& tx) { ... });
//     if (!st.ok()) return st;
//     return std::string();  // an empty reply message (google.protobuf.Empty)
//   });
//   lynx::Status st = server.Start();   // DTM's branch URL: server.Target("/busi.Busi/TransOut")
// Any gRPC content-subtype is accepted: DTM's Go server sends "application/grpc+dtm_raw".
// Handlers run on the server's own worker threads (Options::threads), several at once — not on
// gRPC's callback threads, since handlers block on databases and on DTM: they must be
// thread-safe (use an SqlDbPool, not one shared connection).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <lynx/context.h>
#include <lynx/dtm/barrier.h>
#include <lynx/status.h>

namespace lynx::dtm {

struct GrpcBranchRequest {
  std::string method;  // "/pkg.Service/Method"
  // The call's metadata, keys lower-case (as gRPC delivers them). Binary ("-bin") values are the
  // decoded bytes. A repeated key keeps its last value.
  std::map<std::string, std::string> metadata;
  std::string body;  // the request message's bytes
  // Background() plus the metadata as headers (so pass_through_headers reach the calls the
  // handler makes; "-bin" keys are left out, they are not valid header values), the call's
  // deadline, and cancelled when the caller cancels the call.
  Context context;

  // The barrier named by the dtm-* metadata (BranchBarrier::FromGrpc).
  StatusOr<BranchBarrier> Barrier() const { return BranchBarrier::FromGrpc(metadata); }
  // Parses the body into a protobuf message (any type with ParseFromString, so this header needs
  // no protobuf include); InvalidArgument "malformed request message for <method>" when the bytes
  // are not a valid encoding.
  template <class M>
  Status ParseBody(M* msg) const {
    if (!msg->ParseFromString(body)) {
      return Status::InvalidArgument("malformed request message for " + method);
    }
    return Status::Ok();
  }
};

// gRPC status codes (grpc::StatusCode's values), so that callers and tests need no gRPC header.
inline constexpr int kGrpcOk = 0;
inline constexpr int kGrpcInvalidArgument = 3;
inline constexpr int kGrpcFailedPrecondition = 9;
inline constexpr int kGrpcAborted = 10;
inline constexpr int kGrpcUnimplemented = 12;
inline constexpr int kGrpcInternal = 13;
inline constexpr int kGrpcUnavailable = 14;

// The gRPC status code a handler's status is answered with (the table above).
int GrpcCodeFor(const Status& status);

class GrpcBranchServer {
 public:
  struct Options {
    std::string address = "127.0.0.1";
    uint16_t port = 0;                     // 0: any free port (see port())
    int threads = 4;                       // handlers running at once
    uint64_t max_message_bytes = 4 << 20;  // request and reply messages; larger ones are refused
    // TLS when cert_file and key_file (PEM) are set, plaintext when both are empty. With ca_file
    // (PEM) as well, clients must present a certificate signed by it (mutual TLS).
    std::string cert_file = {};
    std::string key_file = {};
    std::string ca_file = {};
  };
  // Returns the reply message's bytes ("" is an empty message, e.g. google.protobuf.Empty) or the
  // status to answer with.
  using Handler = std::function<StatusOr<std::string>(const GrpcBranchRequest&)>;

  GrpcBranchServer();
  explicit GrpcBranchServer(Options options);
  ~GrpcBranchServer();  // stops
  GrpcBranchServer(const GrpcBranchServer&) = delete;
  GrpcBranchServer& operator=(const GrpcBranchServer&) = delete;

  // Registers the handler of a method, "/pkg.Service/Method" (register before Start).
  GrpcBranchServer& Handle(const std::string& full_method, Handler handler);

  // Binds and starts serving; the error names the address. Unreadable TLS files, a cert without
  // a key (or the reverse) or a ca_file without them are InvalidArgument naming the file/option.
  Status Start();
  // Stops accepting calls and waits for the handlers in progress to return. A call still in
  // progress after a 5 s grace period (also one whose client never sent its message) is
  // cancelled — its reply is lost, which DTM treats as a failed call and retries — but its
  // handler still runs to the end before Stop returns. Idempotent; a stopped server is not
  // started again.
  void Stop();
  uint16_t port() const;
  // "<address>:<port><full_method>", the form DTM takes as a gRPC branch URL, e.g.
  // "127.0.0.1:58081/busi.Busi/TransOut".
  std::string Target(const std::string& full_method) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lynx::dtm
