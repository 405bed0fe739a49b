package interop

import (
	"database/sql"
	"encoding/json"
	"regexp"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmgrpc"
	"github.com/go-resty/resty/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"lynx-dtm/interop/internal/busi"
)

// xaOp is an XA branch over HTTP: dtmcli.XaLocalTransaction runs the local XA transaction for
// op=action and the XA commit / rollback for the phase-2 calls dtmd makes.
func xaOp(db *testDB, account string, sign int64) busi.Handler {
	return func(r *busi.Request) error {
		return dtmcli.XaLocalTransaction(r.Query, db.Conf, func(sdb *sql.DB, xa *dtmcli.Xa) error {
			var p req
			if err := json.Unmarshal(r.Body, &p); err != nil {
				return err
			}
			if p.Note == "fail" {
				return dtmcli.ErrFailure
			}
			return adjust(sdb, db.Name, account, sign*int64(p.Amount))
		})
	}
}

// xaGrpcOp is the same branch over gRPC (dtmgrpc.XaLocalTransaction reads the dtm-* metadata);
// the payload is a google.protobuf.Int64Value amount, negative amounts fail.
func xaGrpcOp(db *testDB, account string, sign int64) busi.Handler {
	return func(r *busi.Request) error {
		return dtmgrpc.XaLocalTransaction(r.Ctx, db.Conf, func(sdb *sql.DB, xa *dtmgrpc.XaGrpc) error {
			var amount wrapperspb.Int64Value
			if err := proto.Unmarshal(r.Body, &amount); err != nil {
				return err
			}
			if amount.Value < 0 {
				return dtmcli.ErrFailure
			}
			return adjust(sdb, db.Name, account, sign*amount.Value)
		})
	}
}

func TestXa(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *testDB) {
		setup := func(t *testing.T) (*env, string, string, string) {
			e := newEnv(t)
			g := gid(t)
			a, b := g+"-a", g+"-b"
			db.account(t, a, 100)
			db.account(t, b, 100)
			e.B.Handle("TransOutXa", xaOp(db, a, -1))
			e.B.Handle("TransInXa", xaOp(db, b, +1))
			return e, g, a, b
		}
		transfer := func(e *env, inNote string) dtmcli.XaGlobalFunc {
			return func(xa *dtmcli.Xa) (*resty.Response, error) {
				if resp, err := xa.CallBranch(req{Amount: 30}, e.B.URL("TransOutXa")); err != nil {
					return resp, err
				}
				return xa.CallBranch(req{Amount: 30, Note: inNote}, e.B.URL("TransInXa"))
			}
		}

		t.Run("normal", func(t *testing.T) {
			e, g, a, b := setup(t)
			noErr(t, "xa", dtmcli.XaGlobalTransaction(e.D.Server(), g, transfer(e, "")))
			e.afterPass(g, 1, succeed)
			var rows []string
			for _, br := range e.D.Query(g).Branches {
				rows = append(rows, br.BranchID+"/"+br.Op+"/"+br.Status)
			}
			eq(t, "branches", rows, []string{"01/rollback/prepared", "01/commit/succeed", "02/rollback/prepared", "02/commit/succeed"})
			eq(t, "calls", e.B.Sequence(g), []string{"TransOutXa/01/action", "TransInXa/02/action", "TransOutXa/01/commit", "TransInXa/02/commit"})
			// dtmd's commit: POST with an empty body even so (xa, protocol §4.2), no dtm parameter.
			for _, c := range e.B.Calls("", g)[2:] {
				eq(t, c.String()+" method", c.Method, "POST")
				eq(t, c.String()+" body", string(c.Body), "")
				eq(t, c.String()+" trans_type", c.Get("trans_type"), "xa")
				if c.Has("dtm") {
					t.Errorf("dtmd sent a dtm parameter to the commit: %v", c.Query)
				}
			}
			eq(t, "action phase2_url", e.B.Calls("TransOutXa", g)[0].Get("phase2_url"), e.B.URL("TransOutXa"))
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{70, 130})
		})

		t.Run("rollback", func(t *testing.T) {
			e, g, a, b := setup(t)
			err := dtmcli.XaGlobalTransaction(e.D.Server(), g, transfer(e, "fail"))
			isErr(t, "xa", err, "FAILURE")
			e.afterPass(g, 1, failed)
			// Only the first branch registered; its XA transaction was rolled back by dtmd.
			eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, prepared))
			eq(t, "calls", e.B.Sequence(g), []string{"TransOutXa/01/action", "TransInXa/02/action", "TransOutXa/01/rollback"})
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{100, 100})
			// The Go SDK's XA abort carries no reason, so none is recorded.
			eq(t, "rollback_reason", e.D.Global(g).RollbackReason, "")
		})

		t.Run("commit ongoing then cron", func(t *testing.T) {
			e, g, a, b := setup(t)
			e.B.Script("TransInXa/commit", busi.Ongoing)
			noErr(t, "xa", dtmcli.XaGlobalTransaction(e.D.Server(), g, transfer(e, "")))
			e.afterPass(g, 1, submitted)
			// Branch 2's XA transaction is still prepared: its credit is not visible yet.
			eq(t, "balances before the cron", []int64{db.balance(t, a), db.balance(t, b)}, []int64{70, 100})
			e.cron(15, g)
			eq(t, "status", e.D.Status(g), succeed)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{70, 130})
		})

		t.Run("timeout before the branches", func(t *testing.T) {
			e, g, a, _ := setup(t)
			err := dtmcli.XaGlobalTransaction(e.D.Server(), g, func(xa *dtmcli.Xa) (*resty.Response, error) {
				e.cron(300, g) // timed out while prepared: dtmd aborts it
				return xa.CallBranch(req{Amount: 30}, e.B.URL("TransOutXa"))
			})
			if err == nil {
				t.Fatal("xa: a branch of a timed-out transaction must fail to register")
			}
			eq(t, "status", e.D.Status(g), failed)
			eq(t, "branches", len(e.D.Query(g).Branches), 0)
			if r := e.D.Global(g).RollbackReason; !regexp.MustCompile(`^Timeout after \d+ seconds$`).MatchString(r) {
				t.Errorf("rollback_reason %q does not match 'Timeout after N seconds'", r)
			}
			eq(t, "balance", db.balance(t, a), int64(100))
		})
	})
}

func TestXaGrpc(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *testDB) {
		setup := func(t *testing.T) (*env, string, string, string) {
			e := newEnv(t)
			g := gid(t)
			a, b := g+"-a", g+"-b"
			db.account(t, a, 100)
			db.account(t, b, 100)
			e.B.Handle("TransOutXa", xaGrpcOp(db, a, -1))
			e.B.Handle("TransInXa", xaGrpcOp(db, b, +1))
			return e, g, a, b
		}
		transfer := func(e *env, inAmount int64) dtmgrpc.XaGrpcGlobalFunc {
			return func(xa *dtmgrpc.XaGrpc) error {
				if err := xa.CallBranch(wrapperspb.Int64(30), e.B.GrpcURL("TransOutXa"), &emptypb.Empty{}); err != nil {
					return err
				}
				return xa.CallBranch(wrapperspb.Int64(inAmount), e.B.GrpcURL("TransInXa"), &emptypb.Empty{})
			}
		}

		t.Run("normal", func(t *testing.T) {
			e, g, a, b := setup(t)
			noErr(t, "xa", dtmgrpc.XaGlobalTransaction(e.D.GrpcServer(), g, transfer(e, 30)))
			e.afterPass(g, 1, succeed)
			eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, succeed, prepared, succeed))
			eq(t, "calls", e.B.Sequence(g), []string{"TransOutXa/01/action", "TransInXa/02/action", "TransOutXa/01/commit", "TransInXa/02/commit"})
			eq(t, "protocol", e.D.Global(g).Protocol, "grpc")
			commit := e.B.Calls("TransOutXa", g)[1]
			eq(t, "commit body", len(commit.Body), 0)
			eq(t, "commit dtm-dtm", commit.Meta("dtm-dtm"), "")
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{70, 130})
		})

		t.Run("rollback", func(t *testing.T) {
			e, g, a, b := setup(t)
			err := dtmgrpc.XaGlobalTransaction(e.D.GrpcServer(), g, transfer(e, -1))
			if err == nil {
				t.Fatal("xa: expected the failing branch's error")
			}
			e.afterPass(g, 1, failed)
			eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, prepared))
			eq(t, "calls", e.B.Sequence(g), []string{"TransOutXa/01/action", "TransInXa/02/action", "TransOutXa/01/rollback"})
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{100, 100})
		})
	})
}
