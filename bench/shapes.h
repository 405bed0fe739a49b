// The transaction shapes of the load generator (DTM's benchmark shapes), as the HTTP calls a
// client makes for one transaction. Bodies are built from tails serialised once, so a
// transaction costs string concatenation, not JSON building: the load generator must stay cheap
// next to the server it measures.
#pragma once

#include <string>
#include <vector>

namespace lynx::bench {

enum class Mode { kSaga, kMsg, kTcc };

// Whose request shapes: DTM's (dtmd, DTM) or dtmrs's (a saga step carries its own "payload";
// a msg is prepared with "actions" + "payloads", then submitted with its gid; no tcc shape).
enum class Dialect { kDtm, kDtmrs };

// "saga" / "msg" / "tcc"; false for anything else.
bool ParseMode(const std::string& name, Mode* mode);
const char* ModeName(Mode mode);

struct Call {
  const char* what;  // names the step in error messages ("submit", "try 01", ...)
  const char* method;
  std::string url;
  std::string body;
};

class Shapes {
 public:
  // dtm: "http://host:port/api/dtmsvr"; busi: "http://host:port/api/busi" (no trailing '/').
  // wait_result: the submit answers once the transaction finished (DTM's option; dtmrs has none,
  // so completions are then awaited at the business service, dtm_loadgen --complete-at busi).
  Shapes(Mode mode, std::string dtm, std::string busi, Dialect dialect = Dialect::kDtm,
         bool wait_result = true);

  // The calls of one transaction in order; each must answer 200 for the transaction to count.
  //   saga: submit (2 steps TransOut/TransIn with their Revert compensations, wait_result)
  //   msg:  submit (1 step TransIn, query_prepared QueryPrepared, wait_result); dtmrs: prepare
  //         (actions, payloads, query_prepared) then submit
  //   tcc:  prepare, then per branch 01/02 registerBranch + the client's own try call to busi,
  //         then submit (wait_result)
  std::vector<Call> Transaction(const std::string& gid) const;

  // GET of the transaction's record (/query?gid=).
  std::string QueryUrl(const std::string& gid) const;

 private:
  // {"gid":"<gid>",<tail>: the tail is a serialised JSON object without its opening brace.
  static std::string WithGid(const std::string& gid, const std::string& tail);

  Mode mode_;
  std::string dtm_;
  std::string busi_;
  Dialect dialect_;
  std::string trans_tail_;              // the submit (and tcc prepare) body after the gid
  std::string prepare_tail_;            // dtmrs msg: the prepare body after the gid
  std::vector<std::string> reg_tails_;  // tcc: registerBranch bodies of branches 01, 02
  std::vector<std::string> try_urls_;   // tcc: busi try URLs of 01, 02 up to "&gid="
};

}  // namespace lynx::bench
