// XA over HTTP (dtm-protocol.md §5.5, §9.2), the global side. XaGlobalTransaction prepares the
// global transaction, runs `fn` — which calls the branches through Xa::CallBranch — and submits
// (DTM commits every branch that registered itself) or, when `fn` returned an error or threw,
// aborts (DTM rolls them back); an exception is rethrown after the abort. The branch side runs its
// local work in an XA local transaction and registers itself with DTM (phase2_url = its URL).
//   lynx::Status st = lynx::dtm::XaGlobalTransaction(server_url, gid, [&](lynx::dtm::Xa& xa) {
//     return xa.CallBranch(busi + "/TransOutXa", {{"amount", 30}}).status();
//   });
// Use from one thread at a time.
#pragma once

#include <functional>
#include <string>

#include <lynx/dtm/json.h>
#include <lynx/dtm/trans_base.h>
#include <lynx/status.h>

namespace lynx::dtm {

class Xa : public TransBase, public TransOptionSetters<Xa> {
 public:
  Xa(std::string server_url, std::string gid);

  // POSTs `data` to url with the query dtm, gid, branch_id (a new sub-branch id),
  // trans_type=xa, op=action and phase2_url=url, and the branch headers. The reply body, or the
  // error.
  StatusOr<std::string> CallBranch(const std::string& url, Payload data = {});

  std::string PrepareBody() const { return ToJson(); }

 private:
  friend Status XaGlobalTransaction(Xa& xa, const std::function<Status(Xa&)>& fn);
};

// Runs prepare -> fn -> submit | abort on a configured Xa (e.g. DTMClient::NewXa).
Status XaGlobalTransaction(Xa& xa, const std::function<Status(Xa&)>& fn);
Status XaGlobalTransaction(const std::string& server_url, const std::string& gid,
                           const std::function<Status(Xa&)>& fn);
// Go's XaGlobalTransaction2: `custom` sets options before prepare.
Status XaGlobalTransaction(const std::string& server_url, const std::string& gid,
                           const std::function<void(Xa&)>& custom,
                           const std::function<Status(Xa&)>& fn);

}  // namespace lynx::dtm
