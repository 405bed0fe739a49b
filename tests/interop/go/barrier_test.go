package interop

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/go-resty/resty/v2"

	"lynx-dtm/interop/internal/busi"
	"lynx-dtm/interop/internal/dtmd"
)

// barrierOp is business code behind the SQL barrier: it moves sign*amount on an account. A
// payload note "fail" makes the forward operation (action / try) a business FAILURE.
func barrierOp(db *testDB, account string, sign int64) busi.Handler {
	return func(r *busi.Request) error {
		bb, err := dtmcli.BarrierFromQuery(r.Query)
		if err != nil {
			return err
		}
		var p req
		if err := json.Unmarshal(r.Body, &p); err != nil {
			return err
		}
		return bb.CallWithDB(db.DB, func(tx *sql.Tx) error {
			if p.Note == "fail" && (bb.Op == "action" || bb.Op == "try") {
				return fmt.Errorf("refused by the business: %w", dtmcli.ErrFailure)
			}
			if sign == 0 {
				return nil // (MySQL reports 0 affected rows for an update that changes nothing)
			}
			return adjust(tx, db.Name, account, sign*int64(p.Amount))
		})
	}
}

// noopOp is a barrier-protected step that changes nothing (TCC confirm of a reservation...).
func noopOp(db *testDB) busi.Handler {
	return func(r *busi.Request) error {
		bb, err := dtmcli.BarrierFromQuery(r.Query)
		if err != nil {
			return err
		}
		return bb.CallWithDB(db.DB, func(tx *sql.Tx) error { return nil })
	}
}

func TestBarrierSaga(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *testDB) {
		setup := func(t *testing.T) (*env, string, string, string) {
			e := newEnv(t)
			g := gid(t)
			a, b := g+"-a", g+"-b"
			db.account(t, a, 100)
			db.account(t, b, 100)
			e.B.Handle("TransOut", barrierOp(db, a, -1))
			e.B.Handle("TransOutRevert", barrierOp(db, a, +1))
			e.B.Handle("TransIn", barrierOp(db, b, +1))
			e.B.Handle("TransInRevert", barrierOp(db, b, -1))
			return e, g, a, b
		}

		t.Run("normal", func(t *testing.T) {
			e, g, a, b := setup(t)
			noErr(t, "submit", e.saga(g).Submit())
			e.afterPass(g, 1, succeed)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{70, 130})
			eq(t, "barrier rows", db.barrierRows(t, g), []string{"01/action/01/action", "02/action/01/action"})
		})

		t.Run("rollback with empty compensation", func(t *testing.T) {
			e, g, a, b := setup(t)
			s := dtmcli.NewSaga(e.D.Server(), g).
				Add(e.B.URL("TransOut"), e.B.URL("TransOutRevert"), req{Amount: 30}).
				Add(e.B.URL("TransIn"), e.B.URL("TransInRevert"), req{Amount: 30, Note: "fail"})
			noErr(t, "submit", s.Submit())
			e.afterPass(g, 1, failed)
			eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, succeed, succeed, failed))
			// TransIn's action rolled back with its barrier row, so its compensation (called
			// anyway, trap 2) found no action and did nothing: an empty compensation.
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{100, 100})
			eq(t, "barrier rows", db.barrierRows(t, g), []string{
				"01/action/01/action", "01/compensate/01/compensate",
				"02/action/01/compensate", "02/compensate/01/compensate"})
		})

		t.Run("duplicate request after a lost reply", func(t *testing.T) {
			e, g, a, b := setup(t)
			// The first TransOut commits, but its reply is lost (500): dtmd retries from the cron
			// and the barrier turns the retry into a no-op.
			var lost atomic.Bool
			inner := barrierOp(db, a, -1)
			e.B.Handle("TransOut", func(r *busi.Request) error {
				if err := inner(r); err != nil {
					return err
				}
				if !lost.Swap(true) {
					return errors.New("reply lost")
				}
				return nil
			})
			noErr(t, "submit", e.saga(g).Submit())
			e.afterPass(g, 1, submitted)
			eq(t, "balance after the first call", db.balance(t, a), int64(70))
			e.cron(25, g)
			eq(t, "status", e.D.Status(g), succeed)
			eq(t, "TransOut calls", len(e.B.Calls("TransOut", g)), 2)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{70, 130})
		})

		t.Run("duplicate compensation", func(t *testing.T) {
			e, g, a, b := setup(t)
			// TransIn fails; TransOut's compensation commits but answers ONGOING once, so dtmd
			// calls it again from the cron: the second call must not refund twice.
			e.B.Handle("TransIn", func(r *busi.Request) error { return dtmcli.ErrFailure })
			var first atomic.Bool
			inner := barrierOp(db, a, +1)
			e.B.Handle("TransOutRevert", func(r *busi.Request) error {
				if err := inner(r); err != nil {
					return err
				}
				if !first.Swap(true) {
					return dtmcli.ErrOngoing
				}
				return nil
			})
			noErr(t, "submit", e.saga(g).Submit())
			e.afterPass(g, 1, aborting)
			e.cron(15, g)
			eq(t, "status", e.D.Status(g), failed)
			eq(t, "TransOutRevert calls", len(e.B.Calls("TransOutRevert", g)), 2)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{100, 100})
		})
	})
}

func TestBarrierTcc(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *testDB) {
		setup := func(t *testing.T) (*env, string, string, string) {
			e := newEnv(t)
			g := gid(t)
			a, b := g+"-a", g+"-b"
			db.account(t, a, 100)
			db.account(t, b, 100)
			// TransOut reserves in its try; TransIn credits in its confirm.
			e.B.Handle("TransOutTry", barrierOp(db, a, -1))
			e.B.Handle("TransOutConfirm", noopOp(db))
			e.B.Handle("TransOutCancel", barrierOp(db, a, +1))
			e.B.Handle("TransInTry", barrierOp(db, b, 0))
			e.B.Handle("TransInConfirm", barrierOp(db, b, +1))
			e.B.Handle("TransInCancel", noopOp(db))
			return e, g, a, b
		}
		transfer := func(e *env, inNote string) dtmcli.TccGlobalFunc {
			return func(tcc *dtmcli.Tcc) (*resty.Response, error) {
				if _, err := tcc.CallBranch(req{Amount: 30}, e.B.URL("TransOutTry"), e.B.URL("TransOutConfirm"), e.B.URL("TransOutCancel")); err != nil {
					return nil, err
				}
				return tcc.CallBranch(req{Amount: 30, Note: inNote}, e.B.URL("TransInTry"), e.B.URL("TransInConfirm"), e.B.URL("TransInCancel"))
			}
		}

		t.Run("normal", func(t *testing.T) {
			e, g, a, b := setup(t)
			noErr(t, "tcc", dtmcli.TccGlobalTransaction(e.D.Server(), g, transfer(e, "")))
			e.afterPass(g, 1, succeed)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{70, 130})
		})

		t.Run("rollback", func(t *testing.T) {
			e, g, a, b := setup(t)
			isErr(t, "tcc", dtmcli.TccGlobalTransaction(e.D.Server(), g, transfer(e, "fail")), "FAILURE")
			e.afterPass(g, 1, failed)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{100, 100})
			// TransIn's try rolled back: its cancel was an empty compensation.
			eq(t, "barrier rows", db.barrierRows(t, g), []string{
				"01/cancel/01/cancel", "01/try/01/try",
				"02/cancel/01/cancel", "02/try/01/cancel"})
		})

		t.Run("hanging try after cancel", func(t *testing.T) {
			e, g, a, _ := setup(t)
			// The try reaches the service only after the transaction timed out and dtmd cancelled
			// it: the cancel is an empty compensation and the late try must not reserve anything.
			inner := barrierOp(db, a, -1)
			var cronGid string
			e.B.Handle("TransOutTry", func(r *busi.Request) error {
				cron, err := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d/api/test/cronOnce?forward=300", e.D.HTTPPort), nil)
				if err != nil {
					return err
				}
				dtmd.Authorize(cron)
				resp, err := http.DefaultClient.Do(cron)
				if err != nil {
					return err
				}
				var v struct{ Gid string }
				_ = json.NewDecoder(resp.Body).Decode(&v)
				resp.Body.Close()
				cronGid = v.Gid
				return inner(r)
			})
			err := dtmcli.TccGlobalTransaction(e.D.Server(), g, func(tcc *dtmcli.Tcc) (*resty.Response, error) {
				return tcc.CallBranch(req{Amount: 30}, e.B.URL("TransOutTry"), e.B.URL("TransOutConfirm"), e.B.URL("TransOutCancel"))
			})
			if err == nil {
				t.Fatal("tcc: the submit of a timed-out transaction must fail")
			}
			eq(t, "cron pass inside the try", cronGid, g)
			eq(t, "status", e.D.Status(g), failed)
			eq(t, "balance", db.balance(t, a), int64(100))
			eq(t, "barrier rows", db.barrierRows(t, g), []string{"01/cancel/01/cancel", "01/try/01/cancel"})
		})
	})
}

// queryPreparedRoute is the msg back-check of a service using DoAndSubmitDB.
func queryPreparedRoute(db *testDB) busi.Handler {
	return func(r *busi.Request) error {
		bb, err := dtmcli.BarrierFromQuery(r.Query)
		if err != nil {
			return err
		}
		return bb.QueryPrepared(db.DB)
	}
}

func TestMsgDoAndSubmitDB(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *testDB) {
		setup := func(t *testing.T) (*env, string, string, string) {
			e := newEnv(t)
			g := gid(t)
			a, b := g+"-a", g+"-b"
			db.account(t, a, 100)
			db.account(t, b, 100)
			e.B.Handle("QueryPrepared", queryPreparedRoute(db))
			e.B.Handle("TransIn", barrierOp(db, b, +1))
			return e, g, a, b
		}
		msg := func(e *env, g string) *dtmcli.Msg {
			return dtmcli.NewMsg(e.D.Server(), g).Add(e.B.URL("TransIn"), req{Amount: 30})
		}

		t.Run("success", func(t *testing.T) {
			e, g, a, b := setup(t)
			err := msg(e, g).DoAndSubmitDB(e.B.URL("QueryPrepared"), db.DB, func(tx *sql.Tx) error {
				return adjust(tx, db.Name, a, -30)
			})
			noErr(t, "DoAndSubmitDB", err)
			e.afterPass(g, 1, succeed)
			eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed))
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{70, 130})
			eq(t, "barrier rows", db.barrierRows(t, g), []string{"00/msg/01/msg", "01/action/01/action"})
		})

		t.Run("busi failure", func(t *testing.T) {
			e, g, a, b := setup(t)
			err := msg(e, g).DoAndSubmitDB(e.B.URL("QueryPrepared"), db.DB, func(tx *sql.Tx) error {
				return adjust(tx, db.Name, a, -300) // insufficient balance: FAILURE
			})
			if !errors.Is(err, dtmcli.ErrFailure) {
				t.Fatalf("DoAndSubmitDB: got %v, want a FAILURE", err)
			}
			eq(t, "status", e.D.Status(g), failed)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{100, 100})
			eq(t, "calls", len(e.B.Calls("", g)), 0)
		})

		t.Run("busi error, rolled back", func(t *testing.T) {
			e, g, a, b := setup(t)
			// A plain error: the SDK asks the back-check, which finds no committed barrier row,
			// records "rollback" and answers FAILURE: the SDK aborts.
			err := msg(e, g).DoAndSubmitDB(e.B.URL("QueryPrepared"), db.DB, func(tx *sql.Tx) error {
				if err := adjust(tx, db.Name, a, -30); err != nil {
					return err
				}
				return errors.New("disk full")
			})
			isErr(t, "DoAndSubmitDB", err, "disk full")
			eq(t, "status", e.D.Status(g), failed)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{100, 100})
			eq(t, "barrier rows", db.barrierRows(t, g), []string{"00/msg/01/rollback"})
		})

		t.Run("back-check before the local transaction", func(t *testing.T) {
			e, g, a, b := setup(t)
			// The application stalls between prepare and its local transaction; the msg times out
			// and dtmd's back-check (cron at +60 s) records "rollback" first and fails the msg.
			err := msg(e, g).DoAndSubmit(e.B.URL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error {
				e.cron(60, g)
				eq(t, "status after dtmd's back-check", e.D.Status(g), failed)
				return bb.CallWithDB(db.DB, func(tx *sql.Tx) error { return adjust(tx, db.Name, a, -30) })
			})
			if !errors.Is(err, dtmcli.ErrDuplicated) {
				t.Fatalf("DoAndSubmitDB: got %v, want ErrDuplicated", err)
			}
			eq(t, "status", e.D.Status(g), failed)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{100, 100})
		})

		t.Run("committed, submit lost: back-check by the cron", func(t *testing.T) {
			e, g, a, b := setup(t)
			// The application commits its local transaction and dies before submitting.
			m := msg(e, g)
			noErr(t, "prepare", m.Prepare(e.B.URL("QueryPrepared")))
			bb, err := dtmcli.BarrierFrom("msg", g, "00", "msg")
			noErr(t, "barrier", err)
			noErr(t, "local transaction", bb.CallWithDB(db.DB, func(tx *sql.Tx) error { return adjust(tx, db.Name, a, -30) }))
			e.cron(60, g)
			eq(t, "status", e.D.Status(g), succeed)
			eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{70, 130})
			eq(t, "back-checks", len(e.B.Calls("QueryPrepared", g)), 1)
		})

		t.Run("DTM unreachable", func(t *testing.T) {
			e, g, a, _ := setup(t)
			m := dtmcli.NewMsg("http://127.0.0.1:1/api/dtmsvr", g).Add(e.B.URL("TransIn"), req{Amount: 30})
			err := m.DoAndSubmitDB(e.B.URL("QueryPrepared"), db.DB, func(tx *sql.Tx) error { return adjust(tx, db.Name, a, -30) })
			if err == nil {
				t.Fatal("DoAndSubmitDB with an unreachable DTM: expected an error")
			}
			eq(t, "balance", db.balance(t, a), int64(100))
		})
	})
}
