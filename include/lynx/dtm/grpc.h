// What the DTM client needs to talk gRPC (dtm-protocol.md §3, §9.3) without exposing gRPC:
// the TLS settings of the connection to DTM's gRPC server, the metadata type of incoming gRPC
// branch calls, the rule that tells a gRPC branch URL ("host:port/pkg.Service/Method") from an
// HTTP one, and a gid from DTM's gRPC NewGid. The gRPC transactions themselves are built by
// NewSagaGrpc / NewMsgGrpc / NewTccGrpc / NewXaGrpc (saga.h, msg.h, tcc.h, xa.h) or by
// DTMClient's New*Grpc.
// Connections are cached per process (one channel per target and TLS settings) and shared by every
// thread; all functions here are thread-safe.
#pragma once

#include <map>
#include <string>

#include <lynx/status.h>

namespace lynx::dtm {

// TLS of the connection to DTM's gRPC server. Calls to gRPC branches (TCC try, XA action, msg
// query-prepared) are plaintext, as DTM's own calls to the branches are.
struct GrpcTlsOptions {
  bool enabled = false;        // false: plaintext (the other fields are ignored)
  std::string cert_file = {};  // PEM client certificate, for mutual TLS (with key_file)
  std::string key_file = {};   // PEM private key of cert_file
  std::string ca_file = {};    // PEM CA that signed the server's certificate; empty: system roots
};

// The metadata of an incoming gRPC call, keys lower-case ("dtm-gid", "dtm-branch_id", ...), one
// value per key (GrpcBranchRequest::metadata).
using GrpcMetadata = std::map<std::string, std::string>;

// True for a gRPC branch URL: no "://" and a '/' (dtm-protocol.md §3.4), e.g.
// "localhost:58081/busi.Busi/TransOut". "http://..." and "topic://..." are not.
bool IsGrpcTarget(const std::string& url);

// A new gid from DTM's gRPC NewGid at `grpc_server` ("host:port"), within 10 s. Unavailable when
// the server cannot be reached; InvalidArgument for an unreadable TLS file (named).
StatusOr<std::string> GenGidGrpc(const std::string& grpc_server, const GrpcTlsOptions& tls = {});

}  // namespace lynx::dtm
