// SQLite result codes as lynx::Status, shared by the embedded store and the SDK's SQLite barrier:
// unique violations are kUniqueConflict, busy/locked kUnavailable, the rest kInternal.
#pragma once

#include <sqlite3.h>

#include <string>

#include "common/status.h"

namespace lynx {

// `db` may be null (the message then comes from the code alone); `what` names the operation.
Status SqliteError(sqlite3* db, int rc, const std::string& what);

}  // namespace lynx
