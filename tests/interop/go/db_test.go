package interop

import (
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/dtmimp"
	_ "github.com/go-sql-driver/mysql" // registers "mysql", the name dtmcli.DBConf uses
	_ "github.com/lib/pq"              // registers "postgres"
)

// testDB is one of the throwaway databases of scripts/lib/databases.sh, prepared with DTM's
// barrier table (dtm-protocol.md §8.1) and an account table.
type testDB struct {
	Name string // "mysql" (MariaDB) or "postgres"
	Conf dtmcli.DBConf
	DB   *sql.DB
}

var (
	dbOnce  = map[string]*sync.Once{"mysql": {}, "postgres": {}}
	dbReady = map[string]*testDB{}
	dbErr   = map[string]error{}
)

// Statements that prepare a database (idempotent: the servers may be shared with other suites).
var setupSQL = map[string][]string{
	"mysql": {
		"CREATE DATABASE IF NOT EXISTS dtm_barrier",
		`CREATE TABLE IF NOT EXISTS dtm_barrier.barrier(
			id bigint(22) PRIMARY KEY AUTO_INCREMENT,
			trans_type varchar(45) default '', gid varchar(128) default '', branch_id varchar(128) default '',
			op varchar(45) default '', barrier_id varchar(45) default '', reason varchar(45) default '',
			create_time datetime DEFAULT now(), update_time datetime DEFAULT now(),
			KEY(create_time), KEY(update_time), UNIQUE KEY(gid, branch_id, op, barrier_id))`,
		"CREATE DATABASE IF NOT EXISTS lynx_interop",
		"CREATE TABLE IF NOT EXISTS lynx_interop.account(id varchar(128) PRIMARY KEY, balance bigint NOT NULL)",
	},
	"postgres": {
		"CREATE SCHEMA IF NOT EXISTS dtm_barrier",
		"CREATE SEQUENCE IF NOT EXISTS dtm_barrier.barrier_seq",
		`CREATE TABLE IF NOT EXISTS dtm_barrier.barrier(
			id bigint NOT NULL DEFAULT NEXTVAL('dtm_barrier.barrier_seq'),
			trans_type varchar(45) default '', gid varchar(128) default '', branch_id varchar(128) default '',
			op varchar(45) default '', barrier_id varchar(45) default '', reason varchar(45) default '',
			create_time timestamp(0) with time zone DEFAULT NULL, update_time timestamp(0) with time zone DEFAULT NULL,
			PRIMARY KEY(id), CONSTRAINT uniq_barrier UNIQUE(gid, branch_id, op, barrier_id))`,
		"CREATE SCHEMA IF NOT EXISTS lynx_interop",
		"CREATE TABLE IF NOT EXISTS lynx_interop.account(id varchar(128) PRIMARY KEY, balance bigint NOT NULL)",
	},
}

func openDB(name string) (*testDB, error) {
	host := os.Getenv("LYNX_TEST_DB_HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	portVar := map[string]string{"mysql": "LYNX_TEST_MYSQL_PORT", "postgres": "LYNX_TEST_PG_PORT"}[name]
	port, err := strconv.ParseInt(os.Getenv(portVar), 10, 64)
	if err != nil || port <= 0 {
		return nil, fmt.Errorf("%s is not set (start the databases with scripts/lib/databases.sh)", portVar)
	}
	conf := dtmcli.DBConf{Driver: name, Host: host, Port: port}
	if name == "mysql" {
		conf.User, conf.Db = "lynx", "lynx_interop"
	} else {
		// trust authentication: the password is not checked, but lib/pq's DSN parser needs a
		// non-empty value in dtmimp.GetDsn's "password=%s dbname=..." form.
		conf.User, conf.Password, conf.Db, conf.Schema = "postgres", "unused", "postgres", "lynx_interop"
	}
	setup := conf
	if name == "mysql" {
		setup.Db = "" // the database is created below
	}
	sdb, err := sql.Open(name, dtmimp.GetDsn(setup))
	if err != nil {
		return nil, err
	}
	defer sdb.Close()
	for _, stmt := range setupSQL[name] {
		if _, err := sdb.Exec(stmt); err != nil {
			return nil, fmt.Errorf("%s: %v", stmt, err)
		}
	}
	db, err := sql.Open(name, dtmimp.GetDsn(conf))
	if err != nil {
		return nil, err
	}
	return &testDB{Name: name, Conf: conf, DB: db}, nil
}

// forEachDB runs f as a subtest per database. A database that is not running skips its subtest,
// or fails it when LYNX_TEST_REQUIRE_DBS=1 (scripts/test.sh).
func forEachDB(t *testing.T, f func(t *testing.T, db *testDB)) {
	for _, name := range []string{"mysql", "postgres"} {
		t.Run(name, func(t *testing.T) {
			dbOnce[name].Do(func() { dbReady[name], dbErr[name] = openDB(name) })
			if dbErr[name] != nil {
				if os.Getenv("LYNX_TEST_REQUIRE_DBS") == "1" {
					t.Fatalf("database %s required (LYNX_TEST_REQUIRE_DBS=1): %v", name, dbErr[name])
				}
				t.Skipf("database %s not available: %v", name, dbErr[name])
			}
			db := dbReady[name]
			// The SDK's barrier SQL dialect is process-wide (DoAndSubmitDB builds its own barrier).
			dtmcli.SetCurrentDBType(name)
			f(t, db)
		})
	}
}

// sql rewrites ? placeholders for the database's driver.
func (db *testDB) sql(q string) string { return dtmimp.GetDBSpecial(db.Name).GetPlaceHoldSQL(q) }

// account creates (or resets) an account row with a balance; ids are unique per test.
func (db *testDB) account(t *testing.T, id string, balance int64) {
	t.Helper()
	if _, err := db.DB.Exec(db.sql("DELETE FROM lynx_interop.account WHERE id=?"), id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DB.Exec(db.sql("INSERT INTO lynx_interop.account(id, balance) VALUES(?, ?)"), id, balance); err != nil {
		t.Fatal(err)
	}
}

func (db *testDB) balance(t *testing.T, id string) int64 {
	t.Helper()
	var b int64
	if err := db.DB.QueryRow(db.sql("SELECT balance FROM lynx_interop.account WHERE id=?"), id).Scan(&b); err != nil {
		t.Fatalf("balance of %s: %v", id, err)
	}
	return b
}

// adjust changes a balance inside the caller's transaction; a balance that would go negative is
// a business FAILURE (the transaction is rolled back by the barrier).
func adjust(tx dtmcli.DB, dbName, id string, amount int64) error {
	q := dtmimp.GetDBSpecial(dbName).GetPlaceHoldSQL("UPDATE lynx_interop.account SET balance = balance + ? WHERE id = ? AND balance + ? >= 0")
	res, err := tx.Exec(q, amount, id, amount)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("insufficient balance in %s: %w", id, dtmcli.ErrFailure)
	}
	return nil
}

// barrierRows lists (branch_id, op, barrier_id, reason) of gid's barrier rows, sorted.
func (db *testDB) barrierRows(t *testing.T, gid string) []string {
	t.Helper()
	rows, err := db.DB.Query(db.sql("SELECT branch_id, op, barrier_id, reason FROM dtm_barrier.barrier WHERE gid=? ORDER BY branch_id, op, barrier_id"), gid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b, o, id, r string
		if err := rows.Scan(&b, &o, &id, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, b+"/"+o+"/"+id+"/"+r)
	}
	return out
}
