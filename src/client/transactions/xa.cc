#include <lynx/dtm/xa.h>

#include <lynx/dtm/barrier.h>
#include <spdlog/spdlog.h>

#include "client/transactions/xa_local.h"
#include "client/transports/call_util.h"

namespace lynx::dtm {

Xa::Xa(std::string server_url, std::string gid)
    : TransBase(std::move(server_url), std::move(gid), "xa") {}

Xa::Xa(std::string server_url, std::string gid, std::string branch_id, std::string op,
       std::string phase2_url)
    : TransBase(std::move(server_url), std::move(gid), "xa", std::move(branch_id)),
      op_(std::move(op)),
      phase2_url_(std::move(phase2_url)) {}

StatusOr<std::string> Xa::CallBranch(const std::string& url, Payload data) {
  auto branch_id = branch_ids_.NewSubBranchId();
  if (!branch_id.ok()) return branch_id.status();
  return RequestBranch("POST", data.Serialize(), *branch_id, "action", url);
}

// Unlike Go's XA, the abort carries rollback_reason (as TCC's does): DTM then records why.
Status XaGlobalTransaction(Xa& xa, const std::function<Status(Xa&)>& fn) {
  return xa.RunGlobalTransaction([&] { return fn(xa); });
}

Status XaGlobalTransaction(const std::string& server_url, const std::string& gid,
                           const std::function<Status(Xa&)>& fn) {
  Xa xa(server_url, gid);
  return XaGlobalTransaction(xa, fn);
}

Status XaGlobalTransaction(const std::string& server_url, const std::string& gid,
                           const std::function<void(Xa&)>& custom,
                           const std::function<Status(Xa&)>& fn) {
  Xa xa(server_url, gid);
  if (custom) custom(xa);
  return XaGlobalTransaction(xa, fn);
}

namespace {

// The statement for one XA step on `driver` (dtm-protocol.md §8.7); "" when the step has none.
std::string XaSql(SqlDriver driver, const std::string& step, const std::string& xid) {
  const std::string quoted = "'" + xid + "'";
  if (driver == SqlDriver::kPostgres) {
    if (step == "start") return "BEGIN";
    if (step == "end") return "";
    if (step == "prepare") return "PREPARE TRANSACTION " + quoted;
    if (step == "commit") return "COMMIT PREPARED " + quoted;
    if (step == "rollback") return "ROLLBACK PREPARED " + quoted;
    return "ROLLBACK";  // abort: the local transaction was never prepared
  }
  if (step == "abort") return "XA ROLLBACK " + quoted;
  return "XA " + step + " " + quoted;
}

// An unknown xid on commit / rollback is a repeated phase 2 (Go ignores these errors too).
bool IsUnknownXid(const Status& st) {
  return st.message().find("XAER_NOTA") != std::string::npos ||
         st.message().find("does not exist") != std::string::npos;
}

// gid-branch_id, quoted into the XA statements: a quote or backslash cannot be part of it.
StatusOr<std::string> XaId(const std::string& gid, const std::string& branch_id) {
  std::string xid = gid + "-" + branch_id;
  if (xid.find_first_of("'\\") != std::string::npos) {
    return Status::InvalidArgument("gid/branch_id '" + xid +
                                   "' cannot be an XA id (quote or backslash)");
  }
  return xid;
}

}  // namespace

StatusOr<Xa> XaFromQuery(const std::map<std::string, std::string>& query) {
  auto get = [&query](const char* key) {
    auto it = query.find(key);
    return it == query.end() ? std::string() : EscapeQueryValue(it->second);
  };
  std::string gid = get("gid");
  std::string branch_id = get("branch_id");
  std::string op = get("op");
  std::string phase2_url = get("phase2_url");
  if (gid.empty() || branch_id.empty() || op.empty()) {
    return Status::InvalidArgument("bad xa info: gid: " + gid + " branchid: " + branch_id +
                                   " op: " + op + " phase2_url: " + phase2_url);
  }
  return Xa(get("dtm"), std::move(gid), std::move(branch_id), std::move(op), std::move(phase2_url));
}

StatusOr<Xa> XaFromGrpc(const GrpcMetadata& metadata, const GrpcTlsOptions& tls) {
  auto get = [&metadata](const char* key) {
    auto it = metadata.find(key);
    return it == metadata.end() ? std::string() : it->second;
  };
  std::string gid = get("dtm-gid");
  std::string branch_id = get("dtm-branch_id");
  std::string op = get("dtm-op");
  std::string phase2_url = get("dtm-phase2_url");
  if (gid.empty() || branch_id.empty() || op.empty()) {
    return Status::InvalidArgument("bad xa info: gid: " + gid + " branchid: " + branch_id +
                                   " op: " + op + " phase2_url: " + phase2_url);
  }
  Xa xa(get("dtm-dtm"), std::move(gid), std::move(branch_id), std::move(op), std::move(phase2_url));
  xa.UseGrpc(tls);
  return xa;
}

Xa NewXaGrpc(const std::string& grpc_server, const std::string& gid, const GrpcTlsOptions& tls) {
  Xa xa(grpc_server, gid);
  xa.UseGrpc(tls);
  return xa;
}

Status XaGlobalTransactionGrpc(const std::string& grpc_server, const std::string& gid,
                               const std::function<Status(Xa&)>& fn) {
  Xa xa = NewXaGrpc(grpc_server, gid);
  return XaGlobalTransaction(xa, fn);
}

Status XaGlobalTransactionGrpc(const std::string& grpc_server, const std::string& gid,
                               const std::function<void(Xa&)>& custom,
                               const std::function<Status(Xa&)>& fn) {
  Xa xa = NewXaGrpc(grpc_server, gid);
  if (custom) custom(xa);
  return XaGlobalTransaction(xa, fn);
}

Status XaLocalTransaction(const std::map<std::string, std::string>& query, const DBConf& conf,
                          const std::function<Status(SqlDb&, Xa&)>& fn) {
  auto xa = XaFromQuery(query);
  if (!xa.ok()) return xa.status();
  return Xa::RunLocalTransaction(*xa, conf, fn);
}

Status XaLocalTransactionGrpc(const GrpcMetadata& metadata, const DBConf& conf,
                              const std::function<Status(SqlDb&, Xa&)>& fn) {
  return XaLocalTransactionGrpc(metadata, conf, GrpcTlsOptions{}, fn);
}

Status XaLocalTransactionGrpc(const GrpcMetadata& metadata, const DBConf& conf,
                              const GrpcTlsOptions& tls,
                              const std::function<Status(SqlDb&, Xa&)>& fn) {
  auto xa = XaFromGrpc(metadata, tls);
  if (!xa.ok()) return xa.status();
  return Xa::RunLocalTransaction(*xa, conf, fn);
}

Status Xa::RunLocalTransaction(Xa& xa, const DBConf& conf,
                               const std::function<Status(SqlDb&, Xa&)>& fn) {
  if (xa.op() == "commit" || xa.op() == "rollback") {
    if (Status st = internal::CheckXaDriver(conf); !st.ok()) return st;
    return internal::RunXaPhase2(conf, "xa", xa.gid(), xa.branch_id(), xa.op());
  }
  return internal::RunXaLocal(conf, "xa", xa.gid(), xa.branch_id(), [&](SqlDb& db) {
    Status st = fn(db, xa);
    if (!st.ok()) return st;
    return xa.RegisterBranch({{"url", xa.phase2_url()}, {"branch_id", xa.branch_id()}});
  });
}

namespace internal {

Status CheckXaDriver(const DBConf& conf) {
  if (conf.driver == "postgres" || conf.driver == "postgresql" || conf.driver == "mysql" ||
      conf.driver == "mariadb") {
    return Status::Ok();
  }
  return Status::InvalidArgument("XA needs a postgres or mysql database, not '" + conf.driver +
                                 "'");
}

Status RunXaPhase2(const DBConf& conf, const std::string& trans_type, const std::string& gid,
                   const std::string& branch_id, const std::string& op) {
  auto xid = XaId(gid, branch_id);
  if (!xid.ok()) return xid.status();
  auto db = SharedSqlDbPool(conf).Acquire();
  if (!db.ok()) return db.status();
  Status st = (*db)->Exec(XaSql((*db)->driver(), op, *xid));
  if (!st.ok() && IsUnknownXid(st)) st = Status::Ok();
  if (st.ok() && op == "rollback") {
    // After this row exists, a local transaction that has not prepared yet fails its own insert.
    st = InsertBarrier(**db, trans_type, gid, branch_id, "action", "01", "rollback").status();
  }
  return st;
}

Status RunXaLocal(const DBConf& conf, const std::string& trans_type, const std::string& gid,
                  const std::string& branch_id, const std::function<Status(SqlDb&)>& work) {
  if (Status st = CheckXaDriver(conf); !st.ok()) return st;
  auto checked = XaId(gid, branch_id);
  if (!checked.ok()) return checked.status();
  const std::string& xid = *checked;
  // A dedicated connection: the prepared XA transaction outlives it on the server.
  auto opened = OpenSqlDb(conf);
  if (!opened.ok()) return opened.status();
  SqlDb& db = **opened;
  const SqlDriver driver = db.driver();
  if (Status st = db.Exec(XaSql(driver, "start", xid)); !st.ok()) return st;
  Status result;
  try {
    result = InsertBarrier(db, trans_type, gid, branch_id, "action", "01", "action").status();
    if (result.ok()) result = work(db);
  } catch (...) {
    if (std::string end = XaSql(driver, "end", xid); !end.empty()) db.Exec(end);
    db.Exec(XaSql(driver, "abort", xid));
    throw;
  }
  if (std::string end = XaSql(driver, "end", xid); !end.empty()) {
    if (Status st = db.Exec(end); !st.ok() && result.ok()) result = st;
  }
  if (result.ok()) return db.Exec(XaSql(driver, "prepare", xid));
  if (Status st = db.Exec(XaSql(driver, "abort", xid)); !st.ok()) {
    spdlog::warn("xa {}: rollback of the local transaction failed: {}", xid, st.message());
  }
  return result;
}

}  // namespace internal

}  // namespace lynx::dtm
