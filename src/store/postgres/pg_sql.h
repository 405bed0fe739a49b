// The PostgreSQL store's schema and statements. Internal to postgres_store.cc.
//
// The tables, columns, sequences and indexes are DTM's (sqls/dtmsvr.storage.postgres.sql), so a
// database DTM created works unchanged, with one deliberate difference: times are
// timestamp(3) with time zone instead of timestamp(0), because the store contract (and the
// cron schedule) needs Unix milliseconds to round-trip exactly. Against DTM-created tables the
// store still works, with times rounded to the second.
//
// Times cross the wire as UTC timestamptz literals (PgParams::Time) and come back as Unix ms
// computed by the server (LYNX_MS), so neither direction depends on the session's TimeZone.
// Every parameter is cast, so each prepared statement has fixed parameter types.
#pragma once

namespace lynx::store::pg {

#define LYNX_MS(col) "(extract(epoch FROM " col ") * 1000)::bigint"
#define LYNX_TS "timestamp(3) with time zone DEFAULT NULL"
// DTM's cron conditions; the (status, next_cron_time) index serves them.
#define LYNX_UNFINISHED "status IN ('prepared', 'submitted', 'aborting')"

// Not in DTM's schema: retention (PurgeFinished) finds old finished transactions through it. Open
// adds it to a database moved from DTM (CREATE INDEX CONCURRENTLY, so live traffic goes on).
#define LYNX_PURGE_INDEX "status_update_time ON trans_global (status, update_time)"
inline constexpr char kPurgeIndexExists[] = "SELECT to_regclass('status_update_time') IS NOT NULL";
inline constexpr char kCreatePurgeIndex[] =
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS " LYNX_PURGE_INDEX;

// Run in one transaction after the schema exists (CREATE SCHEMA is issued separately: it needs a
// database privilege a restricted user may lack even when the schema is already there).
inline constexpr char kSchemaTables[] =
    "CREATE SEQUENCE IF NOT EXISTS trans_global_seq;"
    "CREATE TABLE IF NOT EXISTS trans_global ("
    " id bigint NOT NULL DEFAULT nextval('trans_global_seq'),"
    " gid varchar(128) NOT NULL,"
    " trans_type varchar(45) NOT NULL,"
    " status varchar(45) NOT NULL,"
    " query_prepared varchar(1024) NOT NULL,"
    " protocol varchar(45) NOT NULL,"
    " create_time " LYNX_TS ", update_time " LYNX_TS ", finish_time " LYNX_TS
    ", rollback_time " LYNX_TS
    ","
    " options varchar(1024) DEFAULT '',"
    " custom_data varchar(1024) DEFAULT '',"
    " next_cron_interval int DEFAULT NULL,"
    " next_cron_time " LYNX_TS
    ","
    " owner varchar(128) NOT NULL DEFAULT '',"
    " ext_data text,"
    " result varchar(1024) DEFAULT '',"
    " rollback_reason varchar(1024) DEFAULT '',"
    " PRIMARY KEY (id),"
    " CONSTRAINT gid UNIQUE (gid));"
    "CREATE INDEX IF NOT EXISTS owner ON trans_global (owner);"
    "CREATE INDEX IF NOT EXISTS status_next_cron_time ON trans_global (status, next_cron_time);"
    "CREATE INDEX IF NOT EXISTS " LYNX_PURGE_INDEX
    ";"
    "CREATE SEQUENCE IF NOT EXISTS trans_branch_op_seq;"
    "CREATE TABLE IF NOT EXISTS trans_branch_op ("
    " id bigint NOT NULL DEFAULT nextval('trans_branch_op_seq'),"
    " gid varchar(128) NOT NULL,"
    " url varchar(1024) NOT NULL,"
    " data text,"  // DTM's legacy column, unused
    " bin_data bytea,"
    " branch_id varchar(128) NOT NULL,"
    " op varchar(45) NOT NULL,"
    " status varchar(45) NOT NULL,"
    " finish_time " LYNX_TS ", rollback_time " LYNX_TS ", create_time " LYNX_TS
    ", update_time " LYNX_TS
    ","
    " PRIMARY KEY (id),"
    " CONSTRAINT gid_branch_uniq UNIQUE (gid, branch_id, op));"
    "CREATE SEQUENCE IF NOT EXISTS kv_seq;"
    "CREATE TABLE IF NOT EXISTS kv ("
    " id bigint NOT NULL DEFAULT nextval('kv_seq'),"
    " cat varchar(45) NOT NULL,"
    " k varchar(128) NOT NULL,"
    " v text,"
    " version bigint DEFAULT 1,"
    " create_time " LYNX_TS ", update_time " LYNX_TS
    ","
    " PRIMARY KEY (id),"
    " CONSTRAINT uniq_k UNIQUE (cat, k));"
    // Attempt history (not in DTM): each (gid, branch_id, op) keeps its newest attempts.
    "CREATE SEQUENCE IF NOT EXISTS trans_branch_attempt_seq;"
    "CREATE TABLE IF NOT EXISTS trans_branch_attempt ("
    " id bigint NOT NULL DEFAULT nextval('trans_branch_attempt_seq'),"
    " gid varchar(128) NOT NULL,"
    " branch_id varchar(128) NOT NULL,"
    " op varchar(128) NOT NULL,"
    " start_time bigint NOT NULL DEFAULT 0,"
    " duration_ms bigint NOT NULL DEFAULT 0,"
    " target text NOT NULL DEFAULT '',"
    " outcome varchar(16) NOT NULL DEFAULT '',"
    " code bigint NOT NULL DEFAULT 0,"
    " detail text NOT NULL DEFAULT '',"
    " owner varchar(128) NOT NULL DEFAULT '',"
    " PRIMARY KEY (id));"
    "CREATE INDEX IF NOT EXISTS trans_branch_attempt_key"
    " ON trans_branch_attempt (gid, branch_id, op, id);";

// Serialises concurrent PopulateSchema calls (CREATE ... IF NOT EXISTS races on the catalogs).
inline constexpr char kSchemaLock[] = "SELECT pg_advisory_xact_lock(hashtext('lynx-dtm schema'))";
inline constexpr char kSchemaExists[] = "SELECT 1 FROM pg_namespace WHERE nspname = $1::text";
inline constexpr char kTablesExist[] = "SELECT to_regclass('trans_global') IS NOT NULL";

// Column lists; the store reads them by position.
#define LYNX_GLOBAL_COLUMNS \
  "id, gid, trans_type, status, query_prepared, protocol, " LYNX_MS("create_time") ", " LYNX_MS( \
      "update_time") ", " LYNX_MS("finish_time") ", " LYNX_MS("rollback_time")                   \
      ", options, custom_data, next_cron_interval, " LYNX_MS("next_cron_time")                   \
      ", owner, ext_data, result, rollback_reason"
#define LYNX_BRANCH_COLUMNS                                                              \
  "id, gid, url, bin_data, branch_id, op, status, " LYNX_MS("create_time") ", " LYNX_MS( \
      "update_time") ", " LYNX_MS("finish_time") ", " LYNX_MS("rollback_time")
#define LYNX_KV_COLUMNS \
  "id, cat, k, v, version, " LYNX_MS("create_time") ", " LYNX_MS("update_time")

inline constexpr char kPing[] = "SELECT 1";
inline constexpr char kFindGlobal[] =
    "SELECT " LYNX_GLOBAL_COLUMNS " FROM trans_global WHERE gid = $1::text";
// The cursor bound is always present (INT64_MAX on the first page): every page is a backward
// primary-key range scan, the optional filters are checked on the rows it visits.
inline constexpr char kScanGlobals[] =
    "SELECT " LYNX_GLOBAL_COLUMNS
    " FROM trans_global WHERE id < $1::bigint AND ($2::text = '' OR status = $2::text)"
    " AND ($3::text = '' OR trans_type = $3::text)"
    " AND ($4::timestamptz IS NULL OR create_time >= $4::timestamptz)"
    " AND ($5::timestamptz IS NULL OR create_time <= $5::timestamptz)"
    " AND left(gid, length($7::text)) = $7::text"
    " AND ($8::timestamptz IS NULL OR (status IN ('prepared', 'submitted', 'aborting')"
    " AND next_cron_time < $8::timestamptz))"
    " ORDER BY id DESC LIMIT $6::bigint";
inline constexpr char kInsertGlobal[] =
    "INSERT INTO trans_global (gid, trans_type, status, query_prepared, protocol, create_time,"
    " update_time, finish_time, rollback_time, options, custom_data, next_cron_interval,"
    " next_cron_time, owner, ext_data, result, rollback_reason)"
    " VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::timestamptz,"
    " $7::timestamptz, $8::timestamptz, $9::timestamptz, $10::text, $11::text, $12::int,"
    " $13::timestamptz, $14::text, $15::text, $16::text, $17::text)"
    " ON CONFLICT (gid) DO NOTHING RETURNING id";
// DTM's SELECT ... FOR UPDATE: holds the global row so status changes wait for the branches.
inline constexpr char kLockGlobal[] =
    "SELECT 1 FROM trans_global WHERE gid = $1::text AND status = $2::text FOR UPDATE";
// A single UPDATE: under READ COMMITTED a racing writer waits for the row and re-checks the
// status after the winner commits, so exactly one compare-and-set succeeds.
inline constexpr char kChangeStatus[] =
    "UPDATE trans_global SET status = $1::text, update_time = $2::timestamptz,"
    " finish_time = CASE WHEN $1::text = 'succeed' THEN $2::timestamptz ELSE finish_time END,"
    " rollback_time = CASE WHEN $1::text = 'failed' THEN $2::timestamptz ELSE rollback_time END,"
    " rollback_reason = CASE WHEN $3::boolean THEN $4::text ELSE rollback_reason END,"
    " result = CASE WHEN $5::boolean THEN $6::text ELSE result END"
    " WHERE gid = $7::text AND status = $8::text";
inline constexpr char kTouchCron[] =
    "UPDATE trans_global SET next_cron_interval = $1::int, next_cron_time = $2::timestamptz,"
    " update_time = $3::timestamptz WHERE gid = $4::text AND status = $5::text";
// One statement: SKIP LOCKED lets concurrent leasers (other dtmd instances) pass over a row
// being leased instead of waiting for it and then leasing it a second time. Earliest due first,
// ties by id, like the other stores.
inline constexpr char kLease[] =
    "UPDATE trans_global SET next_cron_time = $1::timestamptz, owner = $2::text,"
    " update_time = $3::timestamptz"
    " WHERE id = (SELECT id FROM trans_global WHERE " LYNX_UNFINISHED
    " AND next_cron_time <= $4::timestamptz ORDER BY next_cron_time, id LIMIT 1"
    " FOR UPDATE SKIP LOCKED) RETURNING " LYNX_GLOBAL_COLUMNS;
// limit + 1 candidates make has_remaining exact in one statement; the UPDATE re-checks the
// conditions so a row finished meanwhile is left alone. Returns (updated, candidates).
inline constexpr char kResetCron[] =
    "WITH c AS (SELECT id, row_number() OVER (ORDER BY next_cron_time, id) AS n"
    " FROM trans_global WHERE " LYNX_UNFINISHED
    " AND next_cron_time > $1::timestamptz"
    " ORDER BY next_cron_time, id LIMIT $2::bigint + 1),"
    " u AS (UPDATE trans_global SET next_cron_time = $3::timestamptz,"
    " update_time = $3::timestamptz WHERE id IN (SELECT id FROM c WHERE n <= $2::bigint)"
    " AND " LYNX_UNFINISHED
    " AND next_cron_time > $1::timestamptz RETURNING 1)"
    " SELECT (SELECT count(*) FROM u), (SELECT count(*) FROM c)";
// Retention in one statement: SKIP LOCKED lets concurrent purgers (other instances) take
// disjoint batches; data-modifying CTEs all run, so the branches go with their globals.
inline constexpr char kPurgeFinished[] =
    "WITH doomed AS (SELECT id, gid FROM trans_global"
    " WHERE status IN ('succeed', 'failed') AND update_time < $1::timestamptz"
    " LIMIT $2::bigint FOR UPDATE SKIP LOCKED),"
    " b AS (DELETE FROM trans_branch_op WHERE gid IN (SELECT gid FROM doomed)),"
    " a AS (DELETE FROM trans_branch_attempt WHERE gid IN (SELECT gid FROM doomed)),"
    " g AS (DELETE FROM trans_global WHERE id IN (SELECT id FROM doomed) RETURNING 1)"
    " SELECT count(*) FROM g";
inline constexpr char kResetByGid[] =
    "UPDATE trans_global SET next_cron_time = $1::timestamptz, update_time = $1::timestamptz"
    " WHERE gid = $2::text";

#define LYNX_ATTEMPT_COLUMNS \
  "id, gid, branch_id, op, start_time, duration_ms, target, outcome, code, detail, owner"
inline constexpr char kInsertAttempt[] =
    "INSERT INTO trans_branch_attempt (gid, branch_id, op, start_time, duration_ms, target,"
    " outcome, code, detail, owner) VALUES ($1::text, $2::text, $3::text, $4::bigint,"
    " $5::bigint, $6::text, $7::text, $8::bigint, $9::text, $10::text)";
// Everything of the key up to the (keep+1)-th newest; nothing when there are at most `keep`.
inline constexpr char kTrimAttempts[] =
    "DELETE FROM trans_branch_attempt WHERE gid = $1::text AND branch_id = $2::text"
    " AND op = $3::text AND id <= (SELECT id FROM trans_branch_attempt WHERE gid = $1::text"
    " AND branch_id = $2::text AND op = $3::text ORDER BY id DESC LIMIT 1 OFFSET $4::bigint)";
inline constexpr char kFindAttempts[] =
    "SELECT " LYNX_ATTEMPT_COLUMNS " FROM trans_branch_attempt WHERE gid = $1::text ORDER BY id";

inline constexpr char kFindBranches[] =
    "SELECT " LYNX_BRANCH_COLUMNS " FROM trans_branch_op WHERE gid = $1::text ORDER BY id";
#define LYNX_INSERT_BRANCH                                                                 \
  "INSERT INTO trans_branch_op (gid, url, bin_data, branch_id, op, status, create_time,"   \
  " update_time, finish_time, rollback_time)"                                              \
  " VALUES ($1::text, $2::text, $3::bytea, $4::text, $5::text, $6::text, $7::timestamptz," \
  " $8::timestamptz, $9::timestamptz, $10::timestamptz)"
inline constexpr char kInsertBranch[] = LYNX_INSERT_BRANCH " RETURNING id";
inline constexpr char kUpsertBranch[] = LYNX_INSERT_BRANCH
    " ON CONFLICT (gid, branch_id, op) DO UPDATE SET status = excluded.status,"
    " finish_time = excluded.finish_time, rollback_time = excluded.rollback_time,"
    " update_time = excluded.update_time";

inline constexpr char kScanKV[] = "SELECT " LYNX_KV_COLUMNS
                                  " FROM kv WHERE cat = $1::text AND id > $2::bigint"
                                  " ORDER BY id LIMIT $3::bigint";
inline constexpr char kFindKV[] =
    "SELECT " LYNX_KV_COLUMNS " FROM kv WHERE cat = $1::text AND k = $2::text";
inline constexpr char kFindKVCat[] =
    "SELECT " LYNX_KV_COLUMNS " FROM kv WHERE cat = $1::text ORDER BY id";
inline constexpr char kCreateKV[] =
    "INSERT INTO kv (cat, k, v, version, create_time, update_time)"
    " VALUES ($1::text, $2::text, $3::text, 1, $4::timestamptz, $4::timestamptz)"
    " ON CONFLICT (cat, k) DO NOTHING";
inline constexpr char kUpdateKV[] =
    "UPDATE kv SET v = $1::text, version = version + 1, update_time = $2::timestamptz"
    " WHERE cat = $3::text AND k = $4::text AND version = $5::bigint";
inline constexpr char kDeleteKV[] = "DELETE FROM kv WHERE cat = $1::text AND k = $2::text";

#undef LYNX_MS
#undef LYNX_TS
#undef LYNX_UNFINISHED
#undef LYNX_PURGE_INDEX
#undef LYNX_GLOBAL_COLUMNS
#undef LYNX_BRANCH_COLUMNS
#undef LYNX_KV_COLUMNS
#undef LYNX_INSERT_BRANCH

}  // namespace lynx::store::pg
