#include "client/transports/grpc_transport.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <future>
#include <mutex>
#include <sstream>
#include <tuple>
#include <utility>
#include <vector>

#include <google/protobuf/empty.pb.h>

#include "client/transports/server_auth.h"
#include "common/ascii.h"
#include "proto/dtmgimp.grpc.pb.h"

namespace lynx::dtm::internal {

namespace {

// A restarted DTM (or branch) must be reachable again within seconds, not after gRPC's default
// back-off of up to two minutes, during which every call on the channel fails at once.
constexpr int kMaxReconnectBackoffMs = 5000;

StatusOr<std::string> ReadTlsFile(const std::string& option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return Status::InvalidArgument("gRPC TLS: cannot read " + option + " '" + path + "'");
  }
  std::ostringstream data;
  data << in.rdbuf();
  if (in.bad()) {
    return Status::InvalidArgument("gRPC TLS: cannot read " + option + " '" + path + "'");
  }
  return data.str();
}

StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const GrpcTlsOptions& tls) {
  if (!tls.enabled) return grpc::InsecureChannelCredentials();
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return Status::InvalidArgument(
        "gRPC TLS: cert_file and key_file go together (mutual TLS) or are both empty");
  }
  grpc::SslCredentialsOptions ssl;
  if (!tls.ca_file.empty()) {
    auto ca = ReadTlsFile("ca_file", tls.ca_file);
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = std::move(*ca);
  }
  if (!tls.cert_file.empty()) {
    auto cert = ReadTlsFile("cert_file", tls.cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadTlsFile("key_file", tls.key_file);
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = std::move(*cert);
    ssl.pem_private_key = std::move(*key);
  }
  return grpc::SslCredentials(ssl);
}

class ChannelCache {
 public:
  StatusOr<std::shared_ptr<grpc::Channel>> Get(const std::string& target,
                                               const GrpcTlsOptions& tls) {
    Key key{target, tls.enabled, tls.enabled ? tls.cert_file : "", tls.enabled ? tls.key_file : "",
            tls.enabled ? tls.ca_file : ""};
    std::lock_guard lock(mu_);
    auto it = channels_.find(key);
    if (it != channels_.end()) return it->second;
    auto creds = Credentials(tls);
    if (!creds.ok()) return creds.status();
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
    auto channel = grpc::CreateCustomChannel(target, *creds, args);
    channels_.emplace(std::move(key), channel);
    return channel;
  }

 private:
  using Key = std::tuple<std::string, bool, std::string, std::string, std::string>;
  std::mutex mu_;
  std::map<Key, std::shared_ptr<grpc::Channel>> channels_;
};

ChannelCache& Channels() {
  static ChannelCache* cache = new ChannelCache();  // never destroyed, see the header
  return *cache;
}

void SetDeadline(grpc::ClientContext* ctx, int64_t timeout_ms) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(std::max<int64_t>(timeout_ms, 1)));
}

std::unique_ptr<dtmgimp::Dtm::Stub> DtmStub(const std::string& server, const GrpcTlsOptions& tls,
                                            Status* error) {
  if (server.empty()) {
    *error = Status::InvalidArgument(
        "DTM gRPC server is not configured (lynx.dtm.grpc_server, or the grpc_server argument)");
    return nullptr;
  }
  auto channel = GrpcChannel(server, tls);
  if (!channel.ok()) {
    *error = channel.status();
    return nullptr;
  }
  return dtmgimp::Dtm::NewStub(*channel);
}

bool IsMetadataKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

StatusOr<GrpcBranchUrl> SplitGrpcUrl(const std::string& url) {
  if (url.find("://") != std::string::npos) {
    return Status::InvalidArgument("gRPC branch URL '" + url +
                                   "' has a scheme; expected host:port/pkg.Service/Method");
  }
  size_t slash = url.find('/');
  if (slash == std::string::npos || slash == 0) {
    return Status::InvalidArgument("gRPC branch URL '" + url +
                                   "' is not of the form host:port/pkg.Service/Method");
  }
  return GrpcBranchUrl{url.substr(0, slash), url.substr(slash)};
}

StatusOr<std::shared_ptr<grpc::Channel>> GrpcChannel(const std::string& target,
                                                     const GrpcTlsOptions& tls) {
  if (target.empty()) return Status::InvalidArgument("gRPC target is empty");
  return Channels().Get(target, tls);
}

std::string GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "code " + std::to_string(static_cast<int>(code));
  }
}

Status FromGrpcStatus(const grpc::Status& status, const std::string& what) {
  const std::string& msg = status.error_message();
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::ABORTED:
      // DTM before v1.10 answered ONGOING as ABORTED with exactly this message.
      if (msg == "ONGOING") return Status::Ongoing(msg);
      return Status::Failure(WithDtmSuffix(msg, StatusCode::kFailure));
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Status::Ongoing(WithDtmSuffix(msg, StatusCode::kOngoing));
    default:
      break;
  }
  std::string text = what + ": gRPC " + GrpcCodeName(status.error_code()) + ": " + msg;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return Status::Unavailable(std::move(text));
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Status::InvalidArgument(std::move(text));
    default:
      return Status::Internal(std::move(text));
  }
}

// A call to DTM itself: its deadline, and the bearer token registered for this server
// (include/lynx/dtm/auth.h) as metadata.
static void SetUpDtmCall(grpc::ClientContext* ctx, const std::string& server, int64_t timeout_ms,
                         const HeaderList& trace = {}) {
  SetDeadline(ctx, timeout_ms);
  if (std::string token = DtmServerToken(server); !token.empty()) {
    ctx->AddMetadata("authorization", "Bearer " + token);
  }
  for (const auto& [k, v] : trace) ctx->AddMetadata(k, v);
}

std::string DtmGrpcMethod(const std::string& operation) {
  if (operation == "prepare") return "Prepare";
  if (operation == "submit") return "Submit";
  if (operation == "abort") return "Abort";
  return "";
}

Status GrpcCallDtm(const std::string& server, const GrpcTlsOptions& tls, int64_t timeout_ms,
                   const std::string& method, const dtmgimp::DtmRequest& request,
                   const HeaderList& trace) {
  Status error;
  auto stub = DtmStub(server, tls, &error);
  if (!stub) return error;
  grpc::ClientContext ctx;
  SetUpDtmCall(&ctx, server, timeout_ms, trace);
  google::protobuf::Empty reply;
  grpc::Status st;
  if (method == "Prepare") {
    st = stub->Prepare(&ctx, request, &reply);
  } else if (method == "Submit") {
    st = stub->Submit(&ctx, request, &reply);
  } else if (method == "Abort") {
    st = stub->Abort(&ctx, request, &reply);
  } else {
    return Status::InvalidArgument("not a DTM gRPC transaction method: '" + method + "'");
  }
  return FromGrpcStatus(st, server + "/dtmgimp.Dtm/" + method);
}

StatusOr<dtmgimp::DtmProgressesReply> GrpcPrepareWorkflow(const std::string& server,
                                                          const GrpcTlsOptions& tls,
                                                          int64_t timeout_ms,
                                                          const dtmgimp::DtmRequest& request,
                                                          const HeaderList& trace) {
  Status error;
  auto stub = DtmStub(server, tls, &error);
  if (!stub) return error;
  grpc::ClientContext ctx;
  SetUpDtmCall(&ctx, server, timeout_ms, trace);
  dtmgimp::DtmProgressesReply reply;
  Status st = FromGrpcStatus(stub->PrepareWorkflow(&ctx, request, &reply),
                             server + "/dtmgimp.Dtm/PrepareWorkflow");
  if (!st.ok()) return st;
  return reply;
}

Status GrpcRegisterBranch(const std::string& server, const GrpcTlsOptions& tls, int64_t timeout_ms,
                          const dtmgimp::DtmBranchRequest& request, const HeaderList& trace) {
  Status error;
  auto stub = DtmStub(server, tls, &error);
  if (!stub) return error;
  grpc::ClientContext ctx;
  SetUpDtmCall(&ctx, server, timeout_ms, trace);
  google::protobuf::Empty reply;
  return FromGrpcStatus(stub->RegisterBranch(&ctx, request, &reply),
                        server + "/dtmgimp.Dtm/RegisterBranch");
}

StatusOr<std::string> GrpcNewGid(const std::string& server, const GrpcTlsOptions& tls,
                                 int64_t timeout_ms) {
  Status error;
  auto stub = DtmStub(server, tls, &error);
  if (!stub) return error;
  grpc::ClientContext ctx;
  SetUpDtmCall(&ctx, server, timeout_ms);
  dtmgimp::DtmGidReply reply;
  const std::string what = server + "/dtmgimp.Dtm/NewGid";
  Status st = FromGrpcStatus(stub->NewGid(&ctx, google::protobuf::Empty(), &reply), what);
  if (!st.ok()) return st;
  if (reply.gid().empty()) return Status::Internal(what + ": the reply has an empty gid");
  return reply.gid();
}

GrpcMetadata BranchCallMetadata(const std::string& gid, const std::string& trans_type,
                                const std::string& branch_id, const std::string& op,
                                const std::string& dtm, const std::string& phase2_url,
                                const std::map<std::string, std::string>& branch_headers,
                                const HeaderList& trace) {
  GrpcMetadata md = {{"dtm-gid", gid},
                     {"dtm-trans_type", trans_type},
                     {"dtm-branch_id", branch_id},
                     {"dtm-op", op},
                     {"dtm-dtm", dtm}};
  if (!phase2_url.empty()) md["dtm-phase2_url"] = phase2_url;
  // emplace: a header does not replace a dtm-* key (Go appends both; readers take the first).
  for (const auto& [k, v] : branch_headers) md.emplace(AsciiLower(k), v);
  for (const auto& [k, v] : trace) md[k] = v;  // the call's own trace wins over a passed header
  return md;
}

Status ValidateGrpcMetadata(const GrpcMetadata& metadata) {
  for (const auto& [k, v] : metadata) {
    if (k.empty() || !std::all_of(k.begin(), k.end(), IsMetadataKeyChar)) {
      return Status::InvalidArgument("'" + k + "' is not a valid gRPC metadata key");
    }
    if (EndsWith(k, "-bin")) continue;  // binary values are base64-encoded by gRPC
    bool printable = std::all_of(v.begin(), v.end(), [](char c) {
      return static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7e;
    });
    if (!printable) {
      return Status::InvalidArgument("the value of gRPC metadata '" + k +
                                     "' has characters outside printable ASCII");
    }
  }
  return Status::Ok();
}

StatusOr<std::string> GrpcCallBranch(const std::string& url, const GrpcMetadata& metadata,
                                     const std::string& body, int64_t timeout_ms) {
  auto parts = SplitGrpcUrl(url);
  if (!parts.ok()) return parts.status();
  if (Status st = ValidateGrpcMetadata(metadata); !st.ok()) return st;
  // Branches are plaintext, as DTM's own branch calls are (dtm-protocol.md §3.4).
  auto channel = GrpcChannel(parts->target, GrpcTlsOptions{});
  if (!channel.ok()) return channel.status();

  grpc::ClientContext ctx;
  SetDeadline(&ctx, timeout_ms);
  for (const auto& [k, v] : metadata) ctx.AddMetadata(k, v);
  grpc::Slice slice(body);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  // Shared with the callback, so that the promise outlives its set_value even when this thread
  // wakes up and returns first.
  auto done = std::make_shared<std::promise<grpc::Status>>();
  std::future<grpc::Status> result = done->get_future();
  grpc::GenericStub stub(*channel);
  stub.UnaryCall(&ctx, parts->method, grpc::StubOptions(), &request, &reply,
                 [done](grpc::Status st) { done->set_value(std::move(st)); });
  // The callback runs exactly once, also on deadline expiry, so this wait is bounded.
  Status st = FromGrpcStatus(result.get(), url);
  if (!st.ok()) return st;
  std::vector<grpc::Slice> slices;
  if (!reply.Dump(&slices).ok()) return Status::Internal(url + ": unreadable reply");
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

}  // namespace lynx::dtm::internal

namespace lynx::dtm {

namespace {
constexpr int64_t kGenGidTimeoutMs = 10000;
}  // namespace

bool IsGrpcTarget(const std::string& url) {
  return url.find("://") == std::string::npos && url.find('/') != std::string::npos;
}

StatusOr<std::string> GenGidGrpc(const std::string& grpc_server, const GrpcTlsOptions& tls) {
  return internal::GrpcNewGid(grpc_server, tls, kGenGidTimeoutMs);
}

}  // namespace lynx::dtm
