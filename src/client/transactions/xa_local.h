// The two halves of an XA branch on the business database (dtm-protocol.md §5.5, §8.7), shared by
// XA branches (XaLocalTransaction, trans_type "xa") and workflow steps (Workflow::DoXa, trans_type
// "workflow"): the local transaction prepared under xid gid-branch_id, and its phase 2.
#pragma once

#include <functional>
#include <string>

#include <lynx/dtm/sql.h>
#include <lynx/status.h>

namespace lynx::dtm::internal {

// InvalidArgument unless conf is PostgreSQL or MySQL/MariaDB.
Status CheckXaDriver(const DBConf& conf);

// On a new connection: XA START (PostgreSQL: BEGIN); the barrier row (trans_type, gid, branch_id,
// action, 01, action), which fails once phase 2 rolled the branch back; work(db); XA END; XA
// PREPARE (PREPARE TRANSACTION). When the barrier insert or work fails, the local work is rolled
// back and the status returned; an exception is rethrown after the rollback. A gid or branch id
// with a quote or backslash is refused (InvalidArgument): it cannot be an XA id.
Status RunXaLocal(const DBConf& conf, const std::string& trans_type, const std::string& gid,
                  const std::string& branch_id, const std::function<Status(SqlDb&)>& work);

// op "commit" / "rollback" of xid gid-branch_id on a pooled connection; an unknown xid counts as
// done (a repeated call). After a rollback the barrier row (trans_type, gid, branch_id, action, 01,
// rollback) is inserted so that a local transaction that has not prepared yet cannot.
Status RunXaPhase2(const DBConf& conf, const std::string& trans_type, const std::string& gid,
                   const std::string& branch_id, const std::string& op);

}  // namespace lynx::dtm::internal
