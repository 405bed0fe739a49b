// Package interop runs DTM's official Go SDK (github.com/dtm-labs/client v1.18.7: dtmcli,
// dtmgrpc) against lynx-dtm's dtmd, as a Go application uses it, and checks the outcome through
// dtmd's /query API and what the business service received.
//
// Every test starts its own dtmd (internal/dtmd: ports chosen by the kernel, a temporary data
// directory, --enable-test-control, --disable-cron; cron passes and time jumps go through
// /api/test/cronOnce instead of sleeping) and an in-process business service (internal/busi:
// HTTP routes /api/busi/<name> and gRPC methods /busi.Busi/<name> served without generated
// code, scriptable results, every call recorded).
//
// Run: scripts/interop-go.sh [BUILD_DIR] (ctest: interop_go_sdk). Environment:
//
//	LYNX_DTMD_PATH         the dtmd binary (default ../../../build/apps/dtmd/dtmd)
//	LYNX_TEST_DB_HOST, LYNX_TEST_MYSQL_PORT, LYNX_TEST_PG_PORT
//	                       MariaDB / PostgreSQL of scripts/lib/databases.sh (barrier, XA,
//	                       DoAndSubmitDB); without them those tests skip
//	LYNX_TEST_REQUIRE_DBS  1: a missing database fails instead (scripts/test.sh)
//	INTEROP_SDK_LOG        debug|info|...: show the SDK's own log (silenced by default)
//
// Workflow runs with DTM's workflow SDK over HTTP and gRPC (workflow_test.go); its two DoXa
// scenarios are skipped for now. JSON-RPC runs (misc_test.go).
package interop
