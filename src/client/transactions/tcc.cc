#include <lynx/dtm/tcc.h>

#include <lynx/dtm/barrier.h>

namespace lynx::dtm {

Tcc::Tcc(std::string server_url, std::string gid)
    : TransBase(std::move(server_url), std::move(gid), "tcc") {}

Tcc::Tcc(std::string server_url, std::string gid, std::string trans_type, std::string branch_id)
    : TransBase(std::move(server_url), std::move(gid), std::move(trans_type),
                std::move(branch_id)) {}

StatusOr<std::string> Tcc::CallBranch(Payload data, const std::string& try_url,
                                      const std::string& confirm_url,
                                      const std::string& cancel_url) {
  auto branch_id = branch_ids_.NewSubBranchId();
  if (!branch_id.ok()) return branch_id.status();
  const std::string body = data.Serialize();
  Status st = RegisterBranch({{"data", body},
                              {"branch_id", *branch_id},
                              {"confirm", confirm_url},
                              {"cancel", cancel_url}});
  if (!st.ok()) return st;
  return RequestBranch("POST", body, *branch_id, "try", try_url);
}

Status TccGlobalTransaction(Tcc& tcc, const std::function<Status(Tcc&)>& fn) {
  return tcc.RunGlobalTransaction([&] { return fn(tcc); });
}

Status TccGlobalTransaction(const std::string& server_url, const std::string& gid,
                            const std::function<Status(Tcc&)>& fn) {
  Tcc tcc(server_url, gid);
  return TccGlobalTransaction(tcc, fn);
}

Status TccGlobalTransaction(const std::string& server_url, const std::string& gid,
                            const std::function<void(Tcc&)>& custom,
                            const std::function<Status(Tcc&)>& fn) {
  Tcc tcc(server_url, gid);
  if (custom) custom(tcc);
  return TccGlobalTransaction(tcc, fn);
}

StatusOr<Tcc> TccFromQuery(const std::map<std::string, std::string>& query) {
  auto get = [&query](const char* key) {
    auto it = query.find(key);
    return it == query.end() ? std::string() : EscapeQueryValue(it->second);
  };
  std::string dtm = get("dtm");
  std::string gid = get("gid");
  std::string trans_type = get("trans_type");
  std::string branch_id = get("branch_id");
  if (dtm.empty() || gid.empty()) {
    return Status::InvalidArgument("bad tcc info. dtm: " + dtm + ", gid: " + gid +
                                   " parentID: " + branch_id);
  }
  if (trans_type.empty()) trans_type = "tcc";
  return Tcc(std::move(dtm), std::move(gid), std::move(trans_type), std::move(branch_id));
}

Tcc NewTccGrpc(const std::string& grpc_server, const std::string& gid, const GrpcTlsOptions& tls) {
  Tcc tcc(grpc_server, gid);
  tcc.UseGrpc(tls);
  return tcc;
}

Status TccGlobalTransactionGrpc(const std::string& grpc_server, const std::string& gid,
                                const std::function<Status(Tcc&)>& fn) {
  Tcc tcc = NewTccGrpc(grpc_server, gid);
  return TccGlobalTransaction(tcc, fn);
}

Status TccGlobalTransactionGrpc(const std::string& grpc_server, const std::string& gid,
                                const std::function<void(Tcc&)>& custom,
                                const std::function<Status(Tcc&)>& fn) {
  Tcc tcc = NewTccGrpc(grpc_server, gid);
  if (custom) custom(tcc);
  return TccGlobalTransaction(tcc, fn);
}

StatusOr<Tcc> TccFromGrpc(const GrpcMetadata& metadata, const GrpcTlsOptions& tls) {
  auto get = [&metadata](const char* key) {
    auto it = metadata.find(key);
    return it == metadata.end() ? std::string() : it->second;
  };
  std::string dtm = get("dtm-dtm");
  std::string gid = get("dtm-gid");
  std::string trans_type = get("dtm-trans_type");
  std::string branch_id = get("dtm-branch_id");
  if (dtm.empty() || gid.empty()) {
    return Status::InvalidArgument("bad tcc info. dtm: " + dtm + ", gid: " + gid +
                                   " branchid: " + branch_id);
  }
  if (trans_type.empty()) trans_type = "tcc";
  Tcc tcc(std::move(dtm), std::move(gid), std::move(trans_type), std::move(branch_id));
  tcc.UseGrpc(tls);
  return tcc;
}

}  // namespace lynx::dtm
