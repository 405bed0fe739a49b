#include <lynx/dtm/helper.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include <lynx/dtm/client.h>
#include <lynx/dtm/grpc.h>

#include "client/transports/call_util.h"
#include "client/transports/transport.h"

namespace lynx::dtm {

namespace {

// Without a deadline in the context, waiting for a result ends after this long (the Go helper's).
constexpr auto kDefaultWait = std::chrono::minutes(5);

template <class T>
void ApplyOptions(const DTMClient& client, const Context& ctx, const TransactionOptions& opts,
                  T* trans) {
  TransOptions& o = trans->options();
  o.timeout_to_fail = opts.timeout_to_fail;
  o.request_timeout = opts.branch_timeout;
  o.retry_interval = opts.retry_interval;
  o.branch_headers = client.BranchHeaders(ctx, opts.custom_headers);
}

// After a saga/msg submit with wait_result: the server's answer is final when it is Ok; a
// FAILURE may also mean "not finished yet" (DTM answers 409 for a still-pending transaction), and
// a transport error (e.g. the inline processing outlasting our timeout) leaves the outcome open:
// then the query decides, polling while the transaction is not final.
Status FinishServerWait(const TransactionHelper& helper, const Context& ctx, const std::string& gid,
                        const Status& submitted) {
  if (submitted.ok()) return submitted;
  auto status = helper.CheckTransactionStatus(ctx, gid);
  if (!status.ok()) return submitted;
  if (*status == "failed" || *status == "aborting") {
    return submitted.IsFailure() ? submitted : helper.WaitTransactionResult(ctx, gid);
  }
  return helper.WaitTransactionResult(ctx, gid);
}

// The first of `urls` that is a gRPC target ("" when none): the transaction then goes over gRPC.
// One is enough, since DTM calls the http(s):// URLs of a gRPC transaction over HTTP.
std::string FirstGrpcUrl(const std::vector<std::string>& urls) {
  for (const auto& url : urls) {
    if (IsGrpcTarget(url)) return url;
  }
  return "";
}

// A gRPC transaction needs grpc_server.
Status CheckGrpcConfigured(const DTMClient& client, const std::string& grpc_url) {
  if (!client.GetGRPCServer().empty()) return Status::Ok();
  return Status::InvalidArgument(
      "branch URL '" + grpc_url + "' is a gRPC target but " + kConfigPrefix +
      ".grpc_server is not configured" +
      (client.IsEnabled() ? "" : " (the dtm.server plugin is disabled)"));
}

// Counts one helper transaction in the client's metrics: active while it lives, then its outcome
// and duration.
class TransactionRecorder {
 public:
  TransactionRecorder(const ClientMetrics& metrics, const char* type)
      : metrics_(metrics), type_(type), start_(std::chrono::steady_clock::now()) {
    metrics_.TransactionStarted();
  }
  TransactionRecorder(const TransactionRecorder&) = delete;
  TransactionRecorder& operator=(const TransactionRecorder&) = delete;
  ~TransactionRecorder() {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    metrics_.TransactionFinished(type_, success_, elapsed.count());
  }
  const Status& Done(const Status& st) {
    success_ = st.ok();
    return st;
  }

 private:
  const ClientMetrics& metrics_;
  const char* type_;
  std::chrono::steady_clock::time_point start_;
  bool success_ = false;
};

}  // namespace

std::string TransactionHelper::MustGenGid() const {
  std::string gid = client_.GenerateGid();
  if (gid.empty()) spdlog::error("failed to generate a transaction gid");
  return gid;
}

StatusOr<std::string> TransactionHelper::GenGid() const { return client_.NewGid(); }

StatusOr<std::string> TransactionHelper::CheckTransactionStatus(const std::string& gid) const {
  return CheckTransactionStatus(Context(), gid);
}

StatusOr<std::string> TransactionHelper::CheckTransactionStatus(const Context& ctx,
                                                                const std::string& gid) const {
  auto transport = internal::Transport::Default();
  auto body =
      internal::CallDtmServer(*transport, ctx, client_.GetServerURL(), client_.GetConfig().timeout,
                              "GET", internal::AppendQuery("query", {{"gid", gid}}), "");
  if (!body.ok()) return body.status();
  auto q = internal::ParseQueryReply(*body, gid);
  if (!q.ok()) return q.status();
  return q->status;
}

Status TransactionHelper::WaitTransactionResult(const Context& ctx, const std::string& gid) const {
  Context wait_ctx = ctx.Deadline() ? ctx : ctx.WithTimeout(kDefaultWait);
  auto transport = internal::Transport::Default();
  auto interval = std::chrono::milliseconds(20);
  std::string last = "unknown";
  for (;;) {
    auto body = internal::CallDtmServer(*transport, wait_ctx, client_.GetServerURL(),
                                        client_.GetConfig().timeout, "GET",
                                        internal::AppendQuery("query", {{"gid", gid}}), "");
    if (body.ok()) {
      auto q = internal::ParseQueryReply(*body, gid);
      if (q.ok()) {
        last = q->status;
        if (q->status == "succeed") return Status::Ok();
        if (q->status == "failed" || q->status == "aborting") {
          std::string msg = "transaction " + gid + " " + q->status;
          if (!q->rollback_reason.empty()) msg += ": " + q->rollback_reason;
          return Status::Failure(WithDtmSuffix(msg, StatusCode::kFailure));
        }
      } else {
        last = q.status().message();
      }
    } else {
      last = body.status().message();
      spdlog::debug("gid {}: status query failed, retrying: {}", gid, last);
    }
    if (wait_ctx.WaitFor(interval)) {
      const std::string why = ctx.Cancelled() ? "canceled" : "deadline passed";
      return Status::Ongoing(WithDtmSuffix(
          "transaction " + gid + " not finished when the wait ended (" + why + "); last: " + last,
          StatusCode::kOngoing));
    }
    interval = std::min(interval * 2, std::chrono::milliseconds(1000));
  }
}

Status TransactionHelper::ExecuteSAGA(const Context& ctx, const std::string& gid,
                                      const std::vector<SAGABranch>& branches,
                                      const TransactionOptions& opts) const {
  TransactionRecorder recorder(client_.Metrics(), "saga");
  std::vector<std::string> urls;
  for (const auto& b : branches) urls.insert(urls.end(), {b.action, b.compensate});
  const std::string grpc_url = FirstGrpcUrl(urls);
  if (!grpc_url.empty()) {
    if (Status st = CheckGrpcConfigured(client_, grpc_url); !st.ok()) return recorder.Done(st);
  }
  Saga saga = grpc_url.empty() ? client_.NewSaga(gid, ctx) : client_.NewSagaGrpc(gid, ctx);
  ApplyOptions(client_, ctx, opts, &saga);
  saga.options().wait_result = opts.wait_result;
  if (opts.concurrent) saga.EnableConcurrent();
  for (const auto& b : branches) saga.Add(b.action, b.compensate, b.data);
  Status st = saga.Submit();
  if (opts.wait_result) st = FinishServerWait(*this, ctx, gid, st);
  if (!st.ok()) spdlog::error("SAGA transaction failed: gid={}: {}", gid, st.message());
  return recorder.Done(st);
}

Status TransactionHelper::ExecuteTCC(const Context& ctx, const std::string& gid,
                                     const std::vector<TCCBranch>& branches,
                                     const TransactionOptions& opts) const {
  TransactionRecorder recorder(client_.Metrics(), "tcc");
  std::vector<std::string> urls;
  for (const auto& b : branches) urls.insert(urls.end(), {b.try_url, b.confirm_url, b.cancel_url});
  const std::string grpc_url = FirstGrpcUrl(urls);
  if (!grpc_url.empty()) {
    if (Status st = CheckGrpcConfigured(client_, grpc_url); !st.ok()) return recorder.Done(st);
  }
  Tcc tcc = grpc_url.empty() ? client_.NewTcc(gid, ctx) : client_.NewTccGrpc(gid, ctx);
  ApplyOptions(client_, ctx, opts, &tcc);
  // Stored at prepare: dtmd then also finishes the submit or the abort before answering.
  tcc.options().wait_result = opts.wait_result;
  Status st = TccGlobalTransaction(tcc, [&](Tcc& t) {
    for (const auto& b : branches) {
      auto res = t.CallBranch(b.data, b.try_url, b.confirm_url, b.cancel_url);
      if (!res.ok()) {
        spdlog::error("TCC branch failed: gid={}, try={}: {}", gid, b.try_url,
                      res.status().message());
        return res.status();
      }
    }
    return Status::Ok();
  });
  if (st.ok() && opts.wait_result) st = WaitTransactionResult(ctx, gid);
  if (!st.ok()) spdlog::error("TCC transaction failed: gid={}: {}", gid, st.message());
  return recorder.Done(st);
}

Status TransactionHelper::ExecuteXA(const Context& ctx, const std::string& gid,
                                    const std::vector<XABranch>& branches,
                                    const TransactionOptions& opts) const {
  TransactionRecorder recorder(client_.Metrics(), "xa");
  std::vector<std::string> urls;
  for (const auto& b : branches) urls.push_back(b.action);
  const std::string grpc_url = FirstGrpcUrl(urls);
  if (!grpc_url.empty()) {
    if (Status st = CheckGrpcConfigured(client_, grpc_url); !st.ok()) return recorder.Done(st);
  }
  Xa xa = grpc_url.empty() ? client_.NewXa(gid, ctx) : client_.NewXaGrpc(gid, ctx);
  ApplyOptions(client_, ctx, opts, &xa);
  xa.options().wait_result = opts.wait_result;  // as for TCC
  Status st = XaGlobalTransaction(xa, [&](Xa& x) {
    for (const auto& b : branches) {
      auto res = x.CallBranch(b.action, b.data);
      if (!res.ok()) {
        spdlog::error("XA branch failed: gid={}, action={}: {}", gid, b.action,
                      res.status().message());
        return res.status();
      }
    }
    return Status::Ok();
  });
  if (st.ok() && opts.wait_result) st = WaitTransactionResult(ctx, gid);
  if (!st.ok()) spdlog::error("XA transaction failed: gid={}: {}", gid, st.message());
  return recorder.Done(st);
}

Status TransactionHelper::ExecuteMsg(const Context& ctx, const std::string& gid,
                                     const std::string& query_prepared,
                                     const std::vector<MsgBranch>& branches,
                                     const TransactionOptions& opts) const {
  TransactionRecorder recorder(client_.Metrics(), "msg");
  std::vector<std::string> urls = {query_prepared};
  for (const auto& b : branches) urls.push_back(b.action);
  const std::string grpc_url = FirstGrpcUrl(urls);
  if (!grpc_url.empty()) {
    if (Status st = CheckGrpcConfigured(client_, grpc_url); !st.ok()) return recorder.Done(st);
  }
  Msg msg = grpc_url.empty() ? client_.NewMsg(gid, ctx) : client_.NewMsgGrpc(gid, ctx);
  ApplyOptions(client_, ctx, opts, &msg);
  msg.options().wait_result = opts.wait_result;
  if (opts.concurrent) msg.EnableConcurrent();
  for (const auto& b : branches) msg.Add(b.action, b.data);
  Status st = msg.Prepare(query_prepared);
  if (st.ok()) {
    st = msg.Submit();
    if (opts.wait_result) st = FinishServerWait(*this, ctx, gid, st);
  }
  if (!st.ok()) spdlog::error("MSG transaction failed: gid={}: {}", gid, st.message());
  return recorder.Done(st);
}

}  // namespace lynx::dtm
