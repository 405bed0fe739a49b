// The MySQL/MariaDB store's schema and statements. Internal to mysql_store.cc.
//
// The tables, columns, types and index names are DTM's (sqls/dtmsvr.storage.mysql.sql,
// dtm-protocol.md §7.2), so a database DTM created works unchanged, with two deliberate
// differences: times are datetime(3) instead of datetime, because the store contract (and the cron
// schedule) needs Unix milliseconds to round-trip exactly (against DTM-created tables the store
// still works, with times rounded to the second); and trans_global has one more index,
// status_update_time, for retention.
//
// Times: like DTM, datetime columns hold the server process's local time (dtmd sets its zone from
// TimeZoneOffset). The conversion happens in C++ (MyParams::Time / MyResult::Time, with
// localtime_r and mktime) and times cross the wire as binary MYSQL_TIME values, so neither the
// session's time_zone nor the server's time zone tables matter, and the SQL never calls
// FROM_UNIXTIME / UNIX_TIMESTAMP. As with DTM's schema, a local time in the repeated hour of a
// daylight-saving change is ambiguous; zones with fixed offsets (TimeZoneOffset) have none.
//
// DDL carries the placeholder {db} for the quoted database name (tables are created before any
// connection can select the database); every other statement is unqualified and runs on pooled
// connections whose default database is `db`.
#pragma once

namespace lynx::store::my {

inline constexpr char kCreateDatabase[] =
    "CREATE DATABASE IF NOT EXISTS {db} DEFAULT CHARACTER SET utf8mb4";

#define LYNX_TS "datetime(3) DEFAULT NULL"
inline constexpr char kCreateTransGlobal[] =
    "CREATE TABLE IF NOT EXISTS {db}.trans_global ("
    " id bigint(22) NOT NULL AUTO_INCREMENT,"
    " gid varchar(128) NOT NULL,"
    " trans_type varchar(45) NOT NULL,"
    " status varchar(12) NOT NULL,"
    " query_prepared varchar(1024) NOT NULL,"
    " protocol varchar(45) NOT NULL,"
    " create_time " LYNX_TS ", update_time " LYNX_TS ", finish_time " LYNX_TS
    ", rollback_time " LYNX_TS
    ","
    " options varchar(1024) DEFAULT '',"
    " custom_data varchar(1024) DEFAULT '',"
    " next_cron_interval int(11) DEFAULT NULL,"
    " next_cron_time " LYNX_TS
    ","
    " owner varchar(128) NOT NULL DEFAULT '',"
    " ext_data text,"
    " result varchar(1024) DEFAULT '',"
    " rollback_reason varchar(1024) DEFAULT '',"
    " PRIMARY KEY (id),"
    " UNIQUE KEY gid (gid),"
    " KEY owner (owner),"
    " KEY status_next_cron_time (status, next_cron_time),"
    // Not in DTM's schema: retention (PurgeFinished) finds old finished transactions through it.
    " KEY status_update_time (status, update_time)"
    ") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4";
inline constexpr char kCreateTransBranchOp[] =
    "CREATE TABLE IF NOT EXISTS {db}.trans_branch_op ("
    " id bigint(22) NOT NULL AUTO_INCREMENT,"
    " gid varchar(128) NOT NULL,"
    " url varchar(1024) NOT NULL,"
    " data text,"  // DTM's legacy column, unused
    " bin_data blob,"
    " branch_id varchar(128) NOT NULL,"
    " op varchar(45) NOT NULL,"
    " status varchar(45) NOT NULL,"
    " finish_time " LYNX_TS ", rollback_time " LYNX_TS ", create_time " LYNX_TS
    ", update_time " LYNX_TS
    ","
    " PRIMARY KEY (id),"
    " UNIQUE KEY gid_uniq (gid, branch_id, op)"
    ") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4";
inline constexpr char kCreateKV[] =
    "CREATE TABLE IF NOT EXISTS {db}.kv ("
    " id bigint(22) NOT NULL AUTO_INCREMENT,"
    " cat varchar(45) NOT NULL,"
    " k varchar(128) NOT NULL,"
    " v text,"
    " version bigint(22) DEFAULT 1,"
    " create_time " LYNX_TS ", update_time " LYNX_TS
    ","
    " PRIMARY KEY (id),"
    " UNIQUE KEY uniq_k (cat, k)"
    ") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4";
// Attempt history (not in DTM): each (gid, branch_id, op) keeps its newest attempts.
inline constexpr char kCreateAttempts[] =
    "CREATE TABLE IF NOT EXISTS {db}.trans_branch_attempt ("
    " id bigint(22) NOT NULL AUTO_INCREMENT,"
    " gid varchar(128) NOT NULL,"
    " branch_id varchar(128) NOT NULL,"
    " op varchar(128) NOT NULL,"
    " start_time bigint(22) NOT NULL DEFAULT 0,"
    " duration_ms bigint(22) NOT NULL DEFAULT 0,"
    " target text,"
    " outcome varchar(16) NOT NULL DEFAULT '',"
    " code bigint(22) NOT NULL DEFAULT 0,"
    " detail text,"
    " owner varchar(128) NOT NULL DEFAULT '',"
    " PRIMARY KEY (id),"
    " KEY attempt_key (gid, branch_id, op, id)"
    ") ENGINE = InnoDB DEFAULT CHARSET = utf8mb4";
// CREATE DATABASE is issued only when the database is missing: it needs a privilege a
// restricted user may lack even when the database is already there.
inline constexpr char kDatabaseExists[] =
    "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?";
inline constexpr const char* kSchemaTables[] = {kCreateTransGlobal, kCreateTransBranchOp, kCreateKV,
                                                kCreateAttempts};

// Serialises PopulateSchema across dtmd instances (concurrent CREATE ... IF NOT EXISTS of the
// same table can fail on the data dictionary). A named lock is per server, held by the session
// until released or disconnected; 0 = timed out.
inline constexpr char kSchemaLockName[] = "lynx-dtm schema";
inline constexpr char kSchemaLock[] = "SELECT GET_LOCK(?, 60)";
inline constexpr char kSchemaUnlock[] = "SELECT RELEASE_LOCK(?)";
inline constexpr char kTablesExist[] =
    "SELECT COUNT(*) FROM information_schema.tables"
    " WHERE table_schema = ? AND table_name = 'trans_global'";
// Open adds the retention index to a database moved from DTM. Plain ADD INDEX (InnoDB builds it
// in place, without blocking writes) runs on MySQL too, which lacks CREATE INDEX IF NOT EXISTS;
// a racing instance that added it first makes this fail with ER_DUP_KEYNAME, which is success.
inline constexpr char kPurgeIndexExists[] =
    "SELECT COUNT(*) FROM information_schema.statistics WHERE table_schema = ?"
    " AND table_name = 'trans_global' AND index_name = 'status_update_time'";
inline constexpr char kCreatePurgeIndex[] =
    "ALTER TABLE {db}.trans_global ADD INDEX status_update_time (status, update_time)";
inline constexpr char kDropDatabase[] = "DROP DATABASE IF EXISTS {db}";

// Column lists; the store reads them by position.
#define LYNX_GLOBAL_COLUMNS                                                                \
  "id, gid, trans_type, status, query_prepared, protocol, create_time, update_time,"       \
  " finish_time, rollback_time, options, custom_data, next_cron_interval, next_cron_time," \
  " owner, ext_data, result, rollback_reason"
#define LYNX_BRANCH_COLUMNS                                                                \
  "id, gid, url, bin_data, branch_id, op, status, create_time, update_time, finish_time, " \
  "rollback_time"
#define LYNX_KV_COLUMNS "id, cat, k, v, version, create_time, update_time"

inline constexpr char kPing[] = "SELECT 1";
inline constexpr char kFindGlobal[] =
    "SELECT " LYNX_GLOBAL_COLUMNS " FROM trans_global WHERE gid = ?";
// The cursor bound is always present (INT64_MAX on the first page): every page is a backward
// primary-key range scan, the optional filters are checked on the rows it visits. The statements
// the shared core runs (store/sql/sql_store.h) number their parameters as PostgreSQL's do.
inline constexpr char kScanGlobals[] =
    "SELECT " LYNX_GLOBAL_COLUMNS
    " FROM trans_global WHERE id < $1 AND ($2 = '' OR status = $2)"
    " AND ($3 = '' OR trans_type = $3)"
    " AND ($4 IS NULL OR create_time >= $4) AND ($5 IS NULL OR create_time <= $5)"
    " AND LEFT(gid, CHAR_LENGTH($7)) = $7 AND ($8 IS NULL OR"
    " (status IN ('prepared', 'submitted', 'aborting') AND next_cron_time < $8))"
    " ORDER BY id DESC LIMIT $6";
// A duplicate gid fails with ER_DUP_ENTRY (kUniqueConflict) and the transaction rolls back.
inline constexpr char kInsertGlobal[] =
    "INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol, create_time,"
    " update_time, finish_time, rollback_time, options, custom_data, next_cron_interval,"
    " next_cron_time, owner, ext_data, result, rollback_reason)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
// DTM's SELECT ... FOR UPDATE: holds the global row so status changes wait for the branches.
inline constexpr char kAutoincLockMode[] = "SELECT @@innodb_autoinc_lock_mode";
inline constexpr char kLockGlobal[] =
    "SELECT 1 FROM trans_global WHERE gid = ? AND status = ? FOR UPDATE";
// A single UPDATE: a racing writer waits for the row lock and then re-reads the committed row
// (UPDATE always reads the latest version), so exactly one compare-and-set succeeds. Affected
// rows count matched rows (CLIENT_FOUND_ROWS), so an update that changes nothing is not "absent".
inline constexpr char kChangeStatus[] =
    "UPDATE trans_global SET status = $1, update_time = $2,"
    " finish_time = IF($1 = 'succeed', $2, finish_time),"
    " rollback_time = IF($1 = 'failed', $2, rollback_time),"
    " rollback_reason = IF($3, $4, rollback_reason), result = IF($5, $6, result)"
    " WHERE gid = $7 AND status = $8";
inline constexpr char kTouchCron[] =
    "UPDATE trans_global SET next_cron_interval = ?, next_cron_time = ?, update_time = ?"
    " WHERE gid = ? AND status = ?";

// The lease, step 1 (in a transaction): the earliest due row of each unfinished status. One
// ordered LIMIT 1 range scan of status_next_cron_time per status (`status IN (...) ORDER BY
// next_cron_time` would read every due row of the three ranges and sort them: a filesort that
// grows with the backlog). InnoDB's secondary index entries end with the primary key, so the
// order (next_cron_time, id) comes from the index too. SKIP LOCKED lets concurrent leasers
// (other dtmd instances) pass over rows being leased instead of waiting and then leasing them a
// second time. The caller takes the earliest of the (at most three) rows; the other rows stay
// locked only until the commit. Parameter: now + expire_in, three times.
#define LYNX_LEASE_PART(status)                                               \
  "(SELECT " LYNX_GLOBAL_COLUMNS " FROM trans_global WHERE status = '" status \
  "'"                                                                         \
  " AND next_cron_time <= ? ORDER BY next_cron_time, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
inline constexpr char kLeaseCandidates[] =
    LYNX_LEASE_PART("prepared") " UNION ALL " LYNX_LEASE_PART(
        "submitted") " UNION ALL " LYNX_LEASE_PART("aborting");
// Step 2, on the row locked in step 1.
inline constexpr char kLeaseUpdate[] =
    "UPDATE trans_global SET next_cron_time = ?, owner = ?, update_time = ? WHERE id = ?";

// ResetCronTime (admin, rare): limit + 1 candidates locked (so has_remaining is exact), then the
// first `limit` of them updated by id (a statement built per call, see mysql_store.cc).
#define LYNX_UNFINISHED "status IN ('prepared', 'submitted', 'aborting')"
inline constexpr char kResetCandidates[] = "SELECT id FROM trans_global WHERE " LYNX_UNFINISHED
                                           " AND next_cron_time > ? LIMIT ? FOR UPDATE";
inline constexpr char kResetByIdsPrefix[] =
    "UPDATE trans_global SET next_cron_time = ?, update_time = ? WHERE id IN (";
inline constexpr char kResetByGid[] =
    "UPDATE trans_global SET next_cron_time = $1, update_time = $1 WHERE gid = $2";

// Retention, per finished status (a range of status_update_time each): SKIP LOCKED lets
// concurrent purgers (other instances) take disjoint batches. The rows found are then deleted
// with their branches by statements built per call (IN lists). Parameters: status, before, limit.
inline constexpr char kPurgeCandidates[] =
    "SELECT id, gid FROM trans_global WHERE status = ? AND update_time < ?"
    " LIMIT ? FOR UPDATE SKIP LOCKED";
inline constexpr char kPurgeBranchesPrefix[] = "DELETE FROM trans_branch_op WHERE gid IN (";
inline constexpr char kPurgeGlobalsPrefix[] = "DELETE FROM trans_global WHERE id IN (";

inline constexpr char kPurgeAttemptsPrefix[] = "DELETE FROM trans_branch_attempt WHERE gid IN (";
#define LYNX_ATTEMPT_COLUMNS \
  "id, gid, branch_id, op, start_time, duration_ms, target, outcome, code, detail, owner"
inline constexpr char kInsertAttempt[] =
    "INSERT INTO trans_branch_attempt (gid, branch_id, op, start_time, duration_ms, target,"
    " outcome, code, detail, owner) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
// Everything of the key up to the (keep+1)-th newest; nothing when there are at most `keep`. The
// derived table lets MySQL read the table it deletes from.
inline constexpr char kTrimAttempts[] =
    "DELETE FROM trans_branch_attempt WHERE gid = $1 AND branch_id = $2 AND op = $3 AND id <= ("
    "SELECT id FROM (SELECT id FROM trans_branch_attempt WHERE gid = $1 AND branch_id = $2"
    " AND op = $3 ORDER BY id DESC LIMIT 1 OFFSET $4) AS cut)";
inline constexpr char kFindAttempts[] =
    "SELECT " LYNX_ATTEMPT_COLUMNS " FROM trans_branch_attempt WHERE gid = ? ORDER BY id";

inline constexpr char kFindBranches[] =
    "SELECT " LYNX_BRANCH_COLUMNS " FROM trans_branch_op WHERE gid = ? ORDER BY id";
#define LYNX_INSERT_BRANCH                                                               \
  "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, status, create_time," \
  " update_time, finish_time, rollback_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
inline constexpr char kInsertBranch[] = LYNX_INSERT_BRANCH;
// VALUES(col) (not the MySQL 8.0.19+ row alias) works on MariaDB and MySQL alike.
inline constexpr char kUpsertBranch[] = LYNX_INSERT_BRANCH
    " ON DUPLICATE KEY UPDATE status = VALUES(status), finish_time = VALUES(finish_time),"
    " rollback_time = VALUES(rollback_time), update_time = VALUES(update_time)";

inline constexpr char kScanKV[] =
    "SELECT " LYNX_KV_COLUMNS " FROM kv WHERE cat = ? AND id > ? ORDER BY id LIMIT ?";
inline constexpr char kFindKV[] = "SELECT " LYNX_KV_COLUMNS " FROM kv WHERE cat = ? AND k = ?";
inline constexpr char kFindKVCat[] = "SELECT " LYNX_KV_COLUMNS " FROM kv WHERE cat = ? ORDER BY id";
// A duplicate (cat, k) fails with ER_DUP_ENTRY (kUniqueConflict).
inline constexpr char kCreateKVRow[] =
    "INSERT INTO kv (cat, k, v, version, create_time, update_time) VALUES ($1, $2, $3, 1, $4, $4)";
inline constexpr char kUpdateKV[] =
    "UPDATE kv SET v = ?, version = version + 1, update_time = ?"
    " WHERE cat = ? AND k = ? AND version = ?";
inline constexpr char kDeleteKV[] = "DELETE FROM kv WHERE cat = ? AND k = ?";

#undef LYNX_TS
#undef LYNX_GLOBAL_COLUMNS
#undef LYNX_BRANCH_COLUMNS
#undef LYNX_KV_COLUMNS
#undef LYNX_LEASE_PART
#undef LYNX_UNFINISHED
#undef LYNX_INSERT_BRANCH

}  // namespace lynx::store::my
