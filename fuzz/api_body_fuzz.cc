// Fuzz target: every JSON body decoder of dtmd's HTTP API and the edge checks after it
// (trans_codec.h, validate.h, custom_data.h, topics.h): prepare/submit/abort bodies,
// registerBranch bodies, gRPC's Steps text, stored options, subscriber lists, the branch-URL
// policy and redaction. None may crash, throw or accept a transaction the edge rules refuse.
#include <cstddef>
#include <cstdint>
#include <string>

#include "server/custom_data.h"
#include "server/limits.h"
#include "server/security/redact.h"
#include "server/security/url_policy.h"
#include "server/topics.h"
#include "server/trans_codec.h"
#include "server/validate.h"

using namespace lynx::server;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  Limits limits;
  static const UrlPolicy policy = *UrlPolicy::Make(UrlPolicyConfig{});
  static const Redactor redactor({"Authorization", "Cookie"});
  for (bool require_type : {true, false}) {
    auto t = DecodeTransRequest(text, require_type);
    if (t.ok() && CheckTrans(*t, limits).ok()) {
      // Accepted: what the engine reads back later must read.
      if (!CheckGid(t->g.gid).ok()) __builtin_trap();
      TransOptions round;
      if (!DecodeOptions(EncodeOptions(t->opts), &round).ok()) __builtin_trap();
      if (t->g.trans_type == "saga" && !ParseSagaCustom(t->g.custom_data, t->steps.size()).ok())
        __builtin_trap();
      if (t->g.trans_type == "msg" && !ParseMsgDelay(t->g.custom_data).ok()) __builtin_trap();
      (void)EncodeGlobalJson(t->g, &redactor);
      (void)CheckTransUrls(*t, policy);
    }
  }
  (void)DecodeBranchRegistration(text);
  (void)DecodeStepsText(text);
  TransOptions o;
  (void)DecodeOptions(text, &o);
  (void)ParseSagaCustom(text, 3);
  (void)ParseMsgDelay(text);
  (void)DecodeSubscribers(text);
  (void)CheckSubscription(text, text, text);
  for (bool grpc : {true, false}) {
    auto target = policy.CheckUrl("url", text, grpc);
    // What the edge accepts is http(s), a gRPC host:port or nothing; never another scheme.
    if (target.ok() && target->kind == UrlTarget::Kind::kUnix) __builtin_trap();
  }
  (void)QuoteLimited(text, 64);
  return 0;
}
