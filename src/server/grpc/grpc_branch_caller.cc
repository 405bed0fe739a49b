#include "server/grpc/grpc_branch_caller.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cctype>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/ascii.h"
#include "server/branch_caller.h"

namespace lynx::server {

namespace asio = boost::asio;

Status SplitGrpcUrl(const std::string& url, std::string* target, std::string* method) {
  const size_t slash = url.find('/');
  if (url.find("://") != std::string::npos || slash == std::string::npos || slash == 0 ||
      slash + 1 >= url.size()) {
    return Status::InvalidArgument("bad gRPC branch url '" + url +
                                   "': expected host:port/package.Service/Method");
  }
  *target = url.substr(0, slash);
  *method = url.substr(slash);
  return Status::Ok();
}

Status ClassifyGrpcReply(int code, const std::string& message, const std::string& url) {
  switch (static_cast<grpc::StatusCode>(code)) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::ABORTED:
      if (message == "ONGOING") return Status::Ongoing(message);
      // As DTM's ErrorMessage2Error: the stored rollback reason ends in " FAILURE" exactly once.
      return Status::Failure(WithDtmSuffix(message, StatusCode::kFailure));
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Status::Ongoing(WithDtmSuffix(message, StatusCode::kOngoing));
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status::Unavailable("grpc " + url + ": code " + std::to_string(code) + ": " + message);
    default:
      return Status::Internal("grpc " + url + ": code " + std::to_string(code) + ": " + message);
  }
}

bool IsValidGrpcMetadata(const std::string& key, const std::string& value) {
  if (key.empty() || key.rfind("grpc-", 0) == 0) return false;
  if (key.size() >= 4 && key.compare(key.size() - 4, 4, "-bin") == 0) return false;
  for (char c : key) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
      return false;
    }
  }
  for (unsigned char c : value) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

struct GrpcBranchCaller::Impl {
  struct Entry {
    std::shared_ptr<grpc::GenericStub> stub;
    std::chrono::steady_clock::time_point last_used;
  };
  GrpcChannelOptions options;
  mutable std::mutex mu;
  std::unordered_map<std::string, Entry> stubs;  // by target
  std::chrono::steady_clock::time_point last_prune;

  struct Resolved {
    std::string channel_target;  // ipv4:a:p,b:p or ipv6:[a]:p
    std::chrono::steady_clock::time_point expires;
  };
  std::unordered_map<std::string, Resolved> resolved;  // by host:port target; under mu

  // Resolves `target` (host:port) and checks every address; the channel target made of them.
  asio::awaitable<StatusOr<std::string>> CheckedTarget(const std::string& target) {
    const auto now = std::chrono::steady_clock::now();
    {
      std::lock_guard lock(mu);
      auto it = resolved.find(target);
      if (it != resolved.end() && it->second.expires > now) co_return it->second.channel_target;
    }
    std::string host, port;
    if (!target.empty() && target.front() == '[') {
      const size_t close = target.find(']');
      if (close == std::string::npos || close + 2 > target.size()) {
        co_return Status::InvalidArgument("bad gRPC target '" + target + "'");
      }
      host = target.substr(1, close - 1);
      port = target.substr(close + 2);
    } else {
      const size_t colon = target.rfind(':');
      if (colon == std::string::npos) {
        co_return Status::InvalidArgument("bad gRPC target '" + target + "': no port");
      }
      host = target.substr(0, colon);
      port = target.substr(colon + 1);
    }
    asio::ip::tcp::resolver resolver(co_await asio::this_coro::executor);
    auto [ec, results] =
        co_await resolver.async_resolve(host, port, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return Status::Unavailable("resolve " + host + ": " + ec.message());
    // Only admitted addresses make up the channel; refused when none is.
    std::string v4, v6;
    std::optional<Status> refusal;
    for (const auto& e : results) {
      const auto addr = e.endpoint().address();
      Status st = options.address_check(host, addr.to_string(), e.endpoint().port());
      if (!st.ok()) {
        if (!refusal) refusal = std::move(st);
        continue;
      }
      const std::string p = std::to_string(e.endpoint().port());
      if (addr.is_v4()) {
        v4 += (v4.empty() ? "ipv4:" : ",") + addr.to_string() + ":" + p;
      } else {
        v6 += (v6.empty() ? "ipv6:" : ",") + std::string("[") + addr.to_string() + "]:" + p;
      }
    }
    std::string channel_target = v4.empty() ? v6 : v4;
    if (channel_target.empty()) {
      co_return refusal ? *refusal : Status::Unavailable("resolve " + host + ": no address");
    }
    std::lock_guard lock(mu);
    if (resolved.size() >= 4096) resolved.clear();  // bounded: names come from stored URLs
    resolved[target] = {channel_target, now + std::chrono::seconds(options.resolve_ttl_seconds)};
    co_return channel_target;
  }

  // The stub of a channel to `target`, which is also the key; `authority` (when non-empty) is
  // the :authority the channel sends (the host:port a resolved target came from).
  std::shared_ptr<grpc::GenericStub> Stub(const std::string& target,
                                          const std::string& authority = "") {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mu);
    if (now - last_prune >= std::chrono::seconds(1)) {
      Prune(now, 0);
      last_prune = now;
    }
    const std::string key = authority.empty() ? target : target + "|" + authority;
    if (auto it = stubs.find(key); it != stubs.end()) {
      it->second.last_used = now;
      return it->second.stub;
    }
    Prune(now, 1);  // room for the new channel
    auto& e = stubs[key];
    e.last_used = now;
    {
      grpc::ChannelArguments args;
      if (!options.service_config.empty()) args.SetServiceConfigJSON(options.service_config);
      args.SetMaxReceiveMessageSize(-1);  // the reply is ignored; never fail on its size
      // A restarted branch service must be called again within seconds, not after gRPC's default
      // reconnect back-off of up to two minutes (calls fail at once while it lasts).
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
      if (!authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, authority);
      e.stub = std::make_shared<grpc::GenericStub>(
          grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
    }
    return e.stub;
  }

  // Closes channels idle too long, then the least recently used until `room` more fit within
  // max_channels. A call in flight keeps its stub (and channel) alive until it completes.
  void Prune(std::chrono::steady_clock::time_point now, size_t room) {
    const auto idle = std::chrono::seconds(options.idle_seconds);
    std::erase_if(stubs, [&](const auto& kv) { return now - kv.second.last_used > idle; });
    while (!stubs.empty() && stubs.size() + room > options.max_channels) {
      auto oldest = stubs.begin();
      for (auto it = stubs.begin(); it != stubs.end(); ++it) {
        if (it->second.last_used < oldest->second.last_used) oldest = it;
      }
      stubs.erase(oldest);
    }
  }
};

GrpcBranchCaller::GrpcBranchCaller(GrpcChannelOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
  if (impl_->options.max_channels == 0) impl_->options.max_channels = 1;
}

GrpcBranchCaller::~GrpcBranchCaller() = default;

size_t GrpcBranchCaller::CachedChannels() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stubs.size();
}

namespace {

// One call's buffers and context; they live until gRPC's completion callback ran.
struct CallState {
  grpc::ClientContext ctx;
  grpc::ByteBuffer request;
  grpc::ByteBuffer reply;
  std::shared_ptr<grpc::GenericStub> stub;
};

}  // namespace

asio::awaitable<Status> GrpcBranchCaller::Call(const BranchCall& call) {
  std::string target, method;
  if (Status st = SplitGrpcUrl(call.url, &target, &method); !st.ok()) co_return st;
  // Everything is checked before anything is handed to gRPC: stored rows may predate the edge
  // checks or come from another writer of the same store.
  std::vector<std::pair<std::string, std::string>> metadata = {{"dtm-gid", call.gid},
                                                               {"dtm-trans_type", call.trans_type},
                                                               {"dtm-branch_id", call.branch_id},
                                                               {"dtm-op", call.op},
                                                               {"dtm-dtm", ""}};
  if (call.headers != nullptr) {
    // gRPC metadata keys are lower-case; DTM requires users to write them so, dtmd lowers them.
    for (const auto& [k, v] : *call.headers) metadata.emplace_back(AsciiLower(k), v);
  }
  for (const auto& [k, v] : call.trace_headers) metadata.emplace_back(k, v);
  for (const auto& [k, v] : metadata) {
    if (!IsValidGrpcMetadata(k, v)) {
      co_return Status::InvalidArgument("grpc " + call.url + ": metadata '" + k +
                                        "' cannot be sent over gRPC (key [0-9a-z_.-], value "
                                        "printable ASCII)");
    }
  }
  auto state = std::make_shared<CallState>();
  const bool unix_target = target.rfind("unix:", 0) == 0 || target.rfind("unix-abstract:", 0) == 0;
  if (impl_->options.address_check && !unix_target) {
    auto checked = co_await impl_->CheckedTarget(target);
    if (!checked.ok()) co_return checked.status();
    state->stub = impl_->Stub(*checked, target);
  } else {
    state->stub = impl_->Stub(target);
  }
  state->ctx.set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(call.timeout_ms));
  for (const auto& [k, v] : metadata) state->ctx.AddMetadata(k, v);
  grpc::Slice slice(call.body.data(), call.body.size());
  state->request = grpc::ByteBuffer(&slice, 1);

  // The initiation captures plain pointers only: GCC 12 may destroy the temporaries of a co_await
  // full-expression twice (AddressSanitizer caught a shared_ptr captured there being released
  // twice), so nothing owning may be captured in it.
  // The completion callback itself (built at run time, not a temporary) keeps the state alive,
  // so that even a coroutine destroyed at shutdown never frees a ClientContext in use.
  std::shared_ptr<CallState>* owner = &state;
  const std::string* method_name = &method;
  auto initiate = [owner, method_name](auto handler) {
    std::shared_ptr<CallState> keep = *owner;
    CallState* raw = keep.get();
    auto executor = asio::get_associated_executor(handler);
    // std::function needs a copyable callable; the coroutine's handler is move-only.
    auto shared = std::make_shared<decltype(handler)>(std::move(handler));
    raw->stub->UnaryCall(&raw->ctx, *method_name, grpc::StubOptions(), &raw->request, &raw->reply,
                         [keep, shared, executor](grpc::Status st) {
                           asio::post(executor,
                                      [shared, st]() mutable { (*shared)(std::move(st)); });
                         });
  };
  grpc::Status result =
      co_await asio::async_initiate<decltype(asio::use_awaitable), void(grpc::Status)>(
          initiate, asio::use_awaitable);
  if (call.reply_code != nullptr) *call.reply_code = static_cast<int64_t>(result.error_code());
  co_return ClassifyGrpcReply(result.error_code(), result.error_message(), call.url);
}

}  // namespace lynx::server
