package interop

import (
	"errors"
	"regexp"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/dtmimp"
	"github.com/go-resty/resty/v2"

	"lynx-dtm/interop/internal/busi"
)

// tccTransfer is the two-branch TCC of DTM's tests.
func (e *env) tccTransfer(tcc *dtmcli.Tcc) (*resty.Response, error) {
	resp, err := tcc.CallBranch(req{Amount: 30}, e.B.URL("TransOutTry"), e.B.URL("TransOutConfirm"), e.B.URL("TransOutCancel"))
	if err != nil {
		return resp, err
	}
	return tcc.CallBranch(req{Amount: 30, Note: "in"}, e.B.URL("TransInTry"), e.B.URL("TransInConfirm"), e.B.URL("TransInCancel"))
}

func TestTcc(t *testing.T) {
	t.Run("normal", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		noErr(t, "tcc", dtmcli.TccGlobalTransaction(e.D.Server(), g, e.tccTransfer))
		e.afterPass(g, 1, succeed)
		// registerBranch rows: [cancel, confirm] per branch (protocol §2.7).
		q := e.D.Query(g)
		var rows []string
		for _, b := range q.Branches {
			rows = append(rows, b.BranchID+"/"+b.Op+"/"+b.Status)
		}
		eq(t, "branches", rows, []string{"01/cancel/prepared", "01/confirm/succeed", "02/cancel/prepared", "02/confirm/succeed"})
		eq(t, "confirm data", string(q.Branches[3].BinData), `{"amount":30,"note":"in"}`)
		// Tries come from the SDK (with dtm), confirms from dtmd, last branch first (protocol §5.4).
		eq(t, "calls", e.B.Sequence(g), []string{"TransOutTry/01/try", "TransInTry/02/try", "TransInConfirm/02/confirm", "TransOutConfirm/01/confirm"})
		for _, c := range e.B.Calls("", g) {
			eq(t, c.String()+" trans_type", c.Get("trans_type"), "tcc")
			eq(t, c.String()+" method", c.Method, "POST")
		}
		eq(t, "try dtm", e.B.Calls("TransOutTry", g)[0].Get("dtm"), e.D.Server())
		confirm := e.B.Calls("TransInConfirm", g)[0]
		eq(t, "confirm body (registered data)", string(confirm.Body), `{"amount":30,"note":"in"}`)
		if confirm.Has("dtm") {
			t.Errorf("dtmd sent a dtm parameter to the confirm: %v", confirm.Query)
		}
	})

	t.Run("rollback", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.SetSticky("TransInTry", busi.Failure)
		e.B.Script("TransOutCancel", busi.Ongoing)
		err := dtmcli.TccGlobalTransaction(e.D.Server(), g, e.tccTransfer)
		isErr(t, "tcc", err, "FAILURE")
		e.afterPass(g, 1, aborting) // the abort ran the cancels; TransOutCancel said ONGOING
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, prepared, succeed, prepared))
		eq(t, "calls", e.B.Sequence(g), []string{"TransOutTry/01/try", "TransInTry/02/try", "TransInCancel/02/cancel", "TransOutCancel/01/cancel", "TransOutCancel/01/cancel"})
		// The SDK sends the try's error as the rollback reason.
		eq(t, "rollback_reason", e.D.Global(g).RollbackReason, err.Error())
		contains(t, "rollback_reason", e.D.Global(g).RollbackReason, "FAILURE")
	})

	t.Run("function error", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := dtmcli.TccGlobalTransaction(e.D.Server(), g, func(tcc *dtmcli.Tcc) (*resty.Response, error) {
			if _, err := tcc.CallBranch(req{Amount: 1}, e.B.URL("TransOutTry"), e.B.URL("TransOutConfirm"), e.B.URL("TransOutCancel")); err != nil {
				return nil, err
			}
			return nil, errors.New("business says no")
		})
		isErr(t, "tcc", err, "business says no")
		e.afterPass(g, 1, failed)
		eq(t, "rollback_reason", e.D.Global(g).RollbackReason, "business says no")
		eq(t, "calls", e.B.Sequence(g), []string{"TransOutTry/01/try", "TransOutCancel/01/cancel"})
	})

	t.Run("nested", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		// TransIn's try is itself a TCC participant that registers a sub-branch (TccFromQuery).
		e.B.Handle("TransInTry", func(r *busi.Request) error {
			tcc, err := dtmcli.TccFromQuery(r.Query)
			if err != nil {
				return err
			}
			_, err = tcc.CallBranch(req{Amount: 30, Note: "nested"}, e.B.URL("NestedTry"), e.B.URL("NestedConfirm"), e.B.URL("NestedCancel"))
			return err
		})
		noErr(t, "tcc", dtmcli.TccGlobalTransaction(e.D.Server(), g, e.tccTransfer))
		e.afterPass(g, 1, succeed)
		var rows []string
		for _, b := range e.D.Query(g).Branches {
			rows = append(rows, b.BranchID+"/"+b.Op+"/"+b.Status)
		}
		eq(t, "branches", rows, []string{
			"01/cancel/prepared", "01/confirm/succeed",
			"02/cancel/prepared", "02/confirm/succeed",
			"0201/cancel/prepared", "0201/confirm/succeed"})
		eq(t, "calls", e.B.Sequence(g), []string{
			"TransOutTry/01/try", "TransInTry/02/try", "NestedTry/0201/try",
			"NestedConfirm/0201/confirm", "TransInConfirm/02/confirm", "TransOutConfirm/01/confirm"})
		eq(t, "nested try dtm", e.B.Calls("NestedTry", g)[0].Get("dtm"), e.D.Server())
	})

	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := dtmcli.TccGlobalTransaction(e.D.Server(), g, func(tcc *dtmcli.Tcc) (*resty.Response, error) {
			if _, err := tcc.CallBranch(req{Amount: 1}, e.B.URL("TransOutTry"), e.B.URL("TransOutConfirm"), e.B.URL("TransOutCancel")); err != nil {
				return nil, err
			}
			e.cron(300, g) // the prepared tcc timed out (35 s default): dtmd cancels it
			eq(t, "status after the timeout", e.D.Status(g), failed)
			return tcc.CallBranch(req{Amount: 1}, e.B.URL("TransInTry"), e.B.URL("TransInConfirm"), e.B.URL("TransInCancel"))
		})
		if err == nil {
			t.Fatal("tcc: expected an error from the branch registered after the timeout")
		}
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, prepared))
		// The reason prints the transaction's own timeout_to_fail: 0 here (trap 9, kept).
		reason := e.D.Global(g).RollbackReason
		if !regexp.MustCompile(`^Timeout after \d+ seconds$`).MatchString(reason) {
			t.Errorf("rollback_reason %q does not match 'Timeout after N seconds'", reason)
		}
		eq(t, "calls", e.B.Sequence(g), []string{"TransOutTry/01/try", "TransOutCancel/01/cancel"})
	})

	t.Run("duplicate registerBranch", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		var dupErr error
		err := dtmcli.TccGlobalTransaction(e.D.Server(), g, func(tcc *dtmcli.Tcc) (*resty.Response, error) {
			resp, err := tcc.CallBranch(req{Amount: 1}, e.B.URL("TransOutTry"), e.B.URL("TransOutConfirm"), e.B.URL("TransOutCancel"))
			if err != nil {
				return resp, err
			}
			// The same branch id again (protocol §2.7: a duplicate (gid, branch_id, op) is an error).
			dupErr = dtmimp.TransRegisterBranch(&tcc.TransBase, map[string]string{
				"data": "{}", "branch_id": "01", "confirm": e.B.URL("Other"), "cancel": e.B.URL("Other")}, "registerBranch")
			return resp, nil
		})
		noErr(t, "tcc", err)
		if dupErr == nil {
			t.Error("registering branch 01 twice: expected an error")
		}
		e.afterPass(g, 1, succeed)
		eq(t, "branches", len(e.D.Query(g).Branches), 2)
		eq(t, "calls", e.B.Sequence(g), []string{"TransOutTry/01/try", "TransOutConfirm/01/confirm"})
	})

	t.Run("branch headers", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := dtmcli.TccGlobalTransaction2(e.D.Server(), g, func(tcc *dtmcli.Tcc) {
			tcc.BranchHeaders = map[string]string{"test_header": "tcc"}
		}, e.tccTransfer)
		noErr(t, "tcc", err)
		e.afterPass(g, 1, succeed)
		calls := e.B.Calls("", g)
		mustEq(t, "calls", len(calls), 4)
		for _, c := range calls { // tries (SDK) and confirms (dtmd)
			eq(t, c.String()+" test_header", c.Meta("test_header"), "tcc")
		}
	})

	t.Run("wait_result", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := dtmcli.TccGlobalTransaction2(e.D.Server(), g, func(tcc *dtmcli.Tcc) { tcc.WaitResult = true }, e.tccTransfer)
		noErr(t, "tcc", err)
		eq(t, "status right after the submit", e.D.Status(g), succeed)
		eq(t, "confirms", len(e.B.Calls("TransOutConfirm", g))+len(e.B.Calls("TransInConfirm", g)), 2)
	})

	t.Run("wait_result, confirm ongoing", func(t *testing.T) {
		// With wait_result a branch's ONGOING comes back to the submit as ONGOING (425,
		// protocol §6.6); the cron finishes the confirms.
		e := newEnv(t)
		g := gid(t)
		e.B.Script("TransOutConfirm", busi.Ongoing)
		err := dtmcli.TccGlobalTransaction2(e.D.Server(), g, func(tcc *dtmcli.Tcc) { tcc.WaitResult = true }, e.tccTransfer)
		isErr(t, "tcc", err, "ONGOING")
		eq(t, "status", e.D.Status(g), submitted)
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "TransInConfirm calls", len(e.B.Calls("TransInConfirm", g)), 1)
	})

	t.Run("pre-1.10 result bodies", func(t *testing.T) {
		// Handlers written for DTM < 1.10 answer 200 {"dtm_result":"FAILURE"/"ONGOING"}: the
		// outcome is the same as with 409 / 425 (trap 1; the SDK judges the try, dtmd the cancel).
		e := newEnv(t)
		g := gid(t)
		e.B.Script("TransInTry", busi.OldFailure)
		e.B.Script("TransOutCancel", busi.OldOngoing)
		err := dtmcli.TccGlobalTransaction(e.D.Server(), g, e.tccTransfer)
		isErr(t, "tcc", err, "FAILURE")
		e.afterPass(g, 1, aborting)
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, prepared, succeed, prepared))
	})
}
