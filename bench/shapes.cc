#include "shapes.h"

#include <boost/json.hpp>

#include "common/http_client.h"

#include <utility>

namespace lynx::bench {

namespace bj = boost::json;

namespace {

// DTM's bench payload (its busi reads only "amount").
constexpr const char* kPayload = R"({"amount":30})";

// The object serialised without its opening brace, to follow {"gid":"...",
std::string Tail(const bj::object& o) { return bj::serialize(o).substr(1); }

// The fields the Go SDK's TransBase always sends, plus wait_result: the client sees the outcome,
// so a counted transaction is a finished one (dtm-protocol.md §6.6).
bj::object TransBody(const char* trans_type, bool wait_result) {
  return bj::object{{"trans_type", trans_type},
                    {"protocol", ""},
                    {"wait_result", wait_result},
                    {"concurrent", false}};
}

}  // namespace

bool ParseMode(const std::string& name, Mode* mode) {
  if (name == "saga") {
    *mode = Mode::kSaga;
  } else if (name == "msg") {
    *mode = Mode::kMsg;
  } else if (name == "tcc") {
    *mode = Mode::kTcc;
  } else {
    return false;
  }
  return true;
}

const char* ModeName(Mode mode) {
  switch (mode) {
    case Mode::kSaga:
      return "saga";
    case Mode::kMsg:
      return "msg";
    case Mode::kTcc:
      return "tcc";
  }
  return "?";
}

Shapes::Shapes(Mode mode, std::string dtm, std::string busi, Dialect dialect, bool wait_result)
    : mode_(mode), dtm_(std::move(dtm)), busi_(std::move(busi)), dialect_(dialect) {
  if (dialect_ == Dialect::kDtmrs) {
    // dtmrs's own shapes (no wait_result, no tcc here).
    if (mode_ == Mode::kSaga) {
      bj::array steps;
      for (const char* branch : {"TransOut", "TransIn"}) {
        const std::string route = busi_ + "/" + branch;
        steps.push_back(
            bj::object{{"action", route}, {"compensate", route + "Revert"}, {"payload", kPayload}});
      }
      trans_tail_ = Tail(bj::object{{"trans_type", "saga"}, {"steps", std::move(steps)}});
    } else {
      prepare_tail_ = Tail(bj::object{{"trans_type", "msg"},
                                      {"actions", bj::array{busi_ + "/TransIn"}},
                                      {"payloads", bj::array{kPayload}},
                                      {"query_prepared", busi_ + "/QueryPrepared"}});
      trans_tail_ = Tail(bj::object{{"trans_type", "msg"}});
    }
    return;
  }
  switch (mode_) {
    case Mode::kSaga: {
      bj::object o = TransBody("saga", wait_result);
      o["steps"] = bj::array{
          bj::object{{"action", busi_ + "/TransOut"}, {"compensate", busi_ + "/TransOutRevert"}},
          bj::object{{"action", busi_ + "/TransIn"}, {"compensate", busi_ + "/TransInRevert"}}};
      o["payloads"] = bj::array{kPayload, kPayload};
      trans_tail_ = Tail(o);
      break;
    }
    case Mode::kMsg: {
      bj::object o = TransBody("msg", wait_result);
      o["steps"] = bj::array{bj::object{{"action", busi_ + "/TransIn"}}};
      o["payloads"] = bj::array{kPayload};
      o["query_prepared"] = busi_ + "/QueryPrepared";
      trans_tail_ = Tail(o);
      break;
    }
    case Mode::kTcc: {
      trans_tail_ = Tail(TransBody("tcc", wait_result));
      // registerBranch: a flat object of strings only (§2.7); DTM's busi route names.
      for (const char* branch : {"TransOut", "TransIn"}) {
        const std::string route = busi_ + "/" + branch;
        // The SDK's try call goes from the client straight to the branch, with dtm, gid,
        // trans_type, branch_id and op in the query (dtm-protocol.md §9.2 Tcc.CallBranch).
        try_urls_.push_back(http::AppendQuery(route + "Try", {{"dtm", dtm_}}) + "&gid=");
        reg_tails_.push_back(Tail(bj::object{{"branch_id", reg_tails_.empty() ? "01" : "02"},
                                             {"trans_type", "tcc"},
                                             {"data", kPayload},
                                             {"confirm", route + "Confirm"},
                                             {"cancel", route + "Revert"}}));
      }
      break;
    }
  }
}

std::string Shapes::WithGid(const std::string& gid, const std::string& tail) {
  // Gids are letters, digits, '-' and '_' (the generator's), so they need no JSON escaping.
  std::string out;
  out.reserve(gid.size() + tail.size() + 10);
  out += R"({"gid":")";
  out += gid;
  out += "\",";
  out += tail;
  return out;
}

std::vector<Call> Shapes::Transaction(const std::string& gid) const {
  std::vector<Call> calls;
  if (!prepare_tail_.empty()) {
    calls.push_back({"prepare", "POST", dtm_ + "/prepare", WithGid(gid, prepare_tail_)});
  }
  if (mode_ != Mode::kTcc) {
    calls.push_back({"submit", "POST", dtm_ + "/submit", WithGid(gid, trans_tail_)});
    return calls;
  }
  calls.reserve(6);
  calls.push_back({"prepare", "POST", dtm_ + "/prepare", WithGid(gid, trans_tail_)});
  static const char* const kRegister[] = {"registerBranch 01", "registerBranch 02"};
  static const char* const kTry[] = {"try 01", "try 02"};
  static const char* const kBranchId[] = {"01", "02"};
  for (size_t i = 0; i < reg_tails_.size(); ++i) {
    calls.push_back({kRegister[i], "POST", dtm_ + "/registerBranch", WithGid(gid, reg_tails_[i])});
    calls.push_back({kTry[i], "POST",
                     try_urls_[i] + gid + "&trans_type=tcc&branch_id=" + kBranchId[i] + "&op=try",
                     kPayload});
  }
  calls.push_back({"submit", "POST", dtm_ + "/submit", WithGid(gid, trans_tail_)});
  return calls;
}

std::string Shapes::QueryUrl(const std::string& gid) const { return dtm_ + "/query?gid=" + gid; }

}  // namespace lynx::bench
