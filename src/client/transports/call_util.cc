#include "client/transports/call_util.h"

#include <lynx/dtm/trace.h>

#include "client/transports/server_auth.h"

#include <algorithm>
#include <cctype>

#include <lynx/dtm/json.h>

namespace lynx::dtm::internal {

namespace {

bool EqualsIgnoreCase(const std::string& a, const std::string& b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

}  // namespace

StatusOr<int64_t> CallTimeoutMs(const Context& ctx, int64_t request_timeout_s) {
  if (Status st = ctx.Err(); !st.ok()) return st;
  int64_t ms = request_timeout_s > 0 ? request_timeout_s * 1000 : kUnlimitedCallTimeoutMs;
  if (auto left = ctx.Remaining()) {
    if (left->count() <= 0) return Status::Unavailable("context deadline exceeded");
    ms = std::min<int64_t>(ms, left->count());
  }
  return ms;
}

StatusOr<HttpReply> SendWithUserAgent(Transport& transport, HttpRequest request) {
  request.headers.emplace_back("User-Agent", "lynx-dtm-client");
  return transport.Do(std::move(request));
}

HeaderList TraceHeaders(const Context& ctx) {
  HeaderList out;
  if (auto trace = TraceOf(ctx)) {
    out.emplace_back("traceparent", trace->Header());
    if (!trace->tracestate.empty()) out.emplace_back("tracestate", trace->tracestate);
  }
  return out;
}

StatusOr<HttpReply> SendToBranch(Transport& transport, const Context& ctx,
                                 int64_t request_timeout_s, HttpRequest request,
                                 const std::string& what) {
  auto timeout = CallTimeoutMs(ctx, request_timeout_s);
  if (!timeout.ok()) return timeout.status();
  request.timeout_ms = *timeout;
  for (auto& h : TraceHeaders(ctx)) request.headers.push_back(std::move(h));
  auto reply = SendWithUserAgent(transport, std::move(request));
  if (!reply.ok()) return Status(reply.status().code(), what + ": " + reply.status().message());
  return reply;
}

StatusOr<std::string> CallDtmServer(Transport& transport, const Context& ctx,
                                    const std::string& server_url, int64_t request_timeout_s,
                                    const std::string& method, const std::string& operation,
                                    const std::string& body, DtmReply reply_kind) {
  auto timeout = CallTimeoutMs(ctx, request_timeout_s);
  if (!timeout.ok())
    return Status(timeout.status().code(), operation + ": " + timeout.status().message());
  return CallDtmServerMs(transport, ctx, server_url, *timeout, method, operation, body, reply_kind);
}

StatusOr<std::string> CallDtmServerMs(Transport& transport, const Context& ctx,
                                      const std::string& server_url, int64_t timeout_ms,
                                      const std::string& method, const std::string& operation,
                                      const std::string& body, DtmReply reply_kind) {
  if (server_url.empty()) {
    return Status::InvalidArgument(
        "DTM server URL is not configured (is the dtm.server plugin enabled?)");
  }
  auto bounded = CallTimeoutMs(ctx, 0);
  if (!bounded.ok())
    return Status(bounded.status().code(), operation + ": " + bounded.status().message());
  HttpRequest req;
  req.method = method;
  std::string base = server_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  req.url = base + "/" + operation;
  if (method != "GET") req.headers.emplace_back("Content-Type", "application/json");
  if (std::string token = DtmServerToken(server_url); !token.empty()) {
    req.headers.emplace_back("Authorization", "Bearer " + token);
  }
  for (auto& h : TraceHeaders(ctx)) req.headers.push_back(std::move(h));
  req.body = body;
  req.timeout_ms = std::min(timeout_ms, *bounded);
  auto reply = SendWithUserAgent(transport, std::move(req));
  if (!reply.ok()) {
    const Status& st = reply.status();
    if (st.code() == StatusCode::kUnavailable) {
      return Status::Unavailable(operation + ": cannot reach the DTM server at " + server_url +
                                 ": " + st.message());
    }
    return Status(st.code(), operation + ": " + st.message());
  }
  if (method == "GET" || reply_kind == DtmReply::kData) {
    if (reply->status == 200) return std::move(reply->body);
    if (reply->status == 409)
      return Status::Failure(WithDtmSuffix(reply->body, StatusCode::kFailure));
    if (reply->status == 425)
      return Status::Ongoing(WithDtmSuffix(reply->body, StatusCode::kOngoing));
    return Status::Internal(operation + ": DTM answered HTTP " + std::to_string(reply->status) +
                            ": " + reply->body);
  }
  Status st = ClassifyDtmReply(reply->status, reply->body);
  if (!st.ok()) return st;
  return std::move(reply->body);
}

std::map<std::string, std::string> MergeBranchHeaders(
    const std::vector<std::string>& names, const std::map<std::string, std::string>& incoming,
    const std::map<std::string, std::string>& custom) {
  std::map<std::string, std::string> out;
  for (const auto& raw : names) {
    std::string name = Trim(raw);
    if (name.empty()) continue;
    bool overridden = std::any_of(custom.begin(), custom.end(),
                                  [&](const auto& kv) { return EqualsIgnoreCase(kv.first, name); });
    if (overridden) continue;
    for (const auto& [k, v] : incoming) {
      if (EqualsIgnoreCase(k, name)) {
        out[name] = v;
        break;
      }
    }
  }
  for (const auto& [k, v] : custom) out[k] = v;
  return out;
}

StatusOr<std::string> ParseNewGidReply(const std::string& body) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object()) {
    auto it = j.find("gid");
    if (it != j.end() && it->is_string() && !it->get<std::string>().empty()) {
      return it->get<std::string>();
    }
  }
  return Status::Internal("newGid: no gid in the reply: " + body);
}

StatusOr<QueriedStatus> ParseQueryReply(const std::string& body, const std::string& gid) {
  Json j = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::Internal("query: not a JSON object: " + body);
  auto t = j.find("transaction");
  if (t == j.end() || t->is_null()) return Status::NotFound("no transaction with gid " + gid);
  if (t->is_object()) {
    auto s = t->find("status");
    if (s != t->end() && s->is_string() && !s->get<std::string>().empty()) {
      QueriedStatus out;
      out.status = s->get<std::string>();
      auto r = t->find("rollback_reason");
      if (r != t->end() && r->is_string()) out.rollback_reason = r->get<std::string>();
      return out;
    }
  }
  return Status::Internal("query: no transaction status in the reply: " + body);
}

std::string ExceptionText(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace lynx::dtm::internal
