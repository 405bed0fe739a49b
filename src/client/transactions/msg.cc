#include <lynx/dtm/msg.h>

#include <spdlog/spdlog.h>

namespace lynx::dtm {

namespace {
constexpr char kMsgDoBranch0[] = "00";
constexpr char kMsgDoOp[] = "msg";
}  // namespace

Msg::Msg(std::string server_url, std::string gid)
    : TransBase(std::move(server_url), std::move(gid), "msg") {}

Msg& Msg::Add(const std::string& action, Payload data) {
  steps_.push_back({{"action", action}});
  payloads_.push_back(data.Serialize());
  return *this;
}

Msg& Msg::AddTopic(const std::string& topic, Payload data) {
  return Add(kMsgTopicPrefix + topic, std::move(data));
}

Msg& Msg::SetDelay(uint64_t seconds) {
  delay_ = seconds;
  return *this;
}

Msg& Msg::EnableConcurrent() {
  options_.concurrent = true;
  return *this;
}

std::string Msg::BuildCustomData() const {
  if (delay_ == 0) return "";
  return Json{{"delay", delay_}}.dump();
}

Status Msg::CheckGrpcConcurrency() const {
  if (uses_grpc() && options_.concurrent) {
    return Status::InvalidArgument("msg " + gid_ +
                                   ": a gRPC msg cannot be concurrent (DtmRequest has no such "
                                   "field; dtm-protocol.md §3.1)");
  }
  return Status::Ok();
}

Status Msg::Prepare(const std::string& query_prepared) {
  if (Status st = CheckGrpcConcurrency(); !st.ok()) return st;
  if (!query_prepared.empty()) query_prepared_ = query_prepared;
  return CallDtm("prepare");
}

Status Msg::Submit() {
  if (Status st = CheckGrpcConcurrency(); !st.ok()) return st;
  custom_data_ = BuildCustomData();  // Go's BuildCustomOptions sets it on the transaction
  return CallDtm("submit");
}

Msg NewMsgGrpc(const std::string& grpc_server, const std::string& gid, const GrpcTlsOptions& tls) {
  Msg msg(grpc_server, gid);
  msg.UseGrpc(tls);
  return msg;
}

Status Msg::DoAndSubmit(const std::string& query_prepared,
                        const std::function<Status(BranchBarrier&)>& busi) {
  auto bb = BranchBarrier::From(trans_type_, gid_, kMsgDoBranch0, kMsgDoOp);
  if (!bb.ok()) return bb.status();
  if (Status st = Prepare(query_prepared); !st.ok()) return st;
  Status busi_status = busi(*bb);
  Status err;
  if (!busi_status.ok() && !busi_status.IsFailure()) {
    // The outcome of the local transaction is unknown: ask the back-check, as DTM would (over
    // gRPC, with an empty request message, when query_prepared is a gRPC URL).
    err = RequestBranch("GET", "", bb->branch_id(), bb->op(), query_prepared_).status();
  }
  if (busi_status.IsFailure() || err.IsFailure()) {
    // Go ignores the abort's result; DTM's back-check covers a lost one.
    if (Status st = CallDtm("abort"); !st.ok()) {
      spdlog::warn("gid {}: abort failed: {}", gid_, st.message());
    }
  } else if (err.ok()) {
    err = Submit();
  }
  if (!busi_status.ok()) return busi_status;
  return err;
}

Status Msg::DoAndSubmitDB(const std::string& query_prepared, SqlDb& db,
                          const std::function<Status(SqlDb&)>& busi) {
  return DoAndSubmit(query_prepared, [&](BranchBarrier& bb) { return bb.CallWithDB(db, busi); });
}

}  // namespace lynx::dtm
