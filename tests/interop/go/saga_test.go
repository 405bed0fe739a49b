package interop

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"

	"lynx-dtm/interop/internal/busi"
)

// saga is the two-step transfer saga of DTM's tests (TransOut then TransIn).
func (e *env) saga(gid string) *dtmcli.Saga {
	return dtmcli.NewSaga(e.D.Server(), gid).
		Add(e.B.URL("TransOut"), e.B.URL("TransOutRevert"), req{Amount: 30}).
		Add(e.B.URL("TransIn"), e.B.URL("TransInRevert"), req{Amount: 30})
}

func TestSaga(t *testing.T) {
	t.Run("normal", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		noErr(t, "submit", e.saga(g).Submit())
		e.afterPass(g, 1, succeed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, succeed, prepared, succeed))
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action"})
		glob := e.D.Global(g)
		eq(t, "rollback_reason", glob.RollbackReason, "")
		if glob.FinishTime == "" || glob.RollbackTime != "" {
			t.Errorf("a succeeded saga has finish_time %q and rollback_time %q, want only finish_time", glob.FinishTime, glob.RollbackTime)
		}
		eq(t, "protocol", glob.Protocol, "http")
		eq(t, "trans_type", glob.TransType, "saga")
		// The branch call as DTM makes it (protocol §4.2): POST with the payload, JSON content type,
		// gid/trans_type/branch_id/op in the query and no dtm parameter (trap 5).
		for _, c := range e.B.Calls("", g) {
			eq(t, c.Route+" method", c.Method, "POST")
			eq(t, c.Route+" body", string(c.Body), `{"amount":30}`)
			eq(t, c.Route+" content-type", c.Meta("Content-Type"), "application/json")
			eq(t, c.Route+" trans_type", c.Get("trans_type"), "saga")
			if c.Has("dtm") {
				t.Errorf("%s: dtmd sent a dtm query parameter: %v", c.Route, c.Query)
			}
		}
		// Stored branch rows: [c1, a1, c2, a2] with the payload and URLs (protocol §5.2).
		q := e.D.Query(g)
		mustEq(t, "branch count", len(q.Branches), 4)
		wantURL := []string{e.B.URL("TransOutRevert"), e.B.URL("TransOut"), e.B.URL("TransInRevert"), e.B.URL("TransIn")}
		wantOp := []string{"compensate", "action", "compensate", "action"}
		wantID := []string{"01", "01", "02", "02"}
		for i, b := range q.Branches {
			eq(t, "branch url", b.URL, wantURL[i])
			eq(t, "branch op", b.Op, wantOp[i])
			eq(t, "branch id", b.BranchID, wantID[i])
			eq(t, "branch data", string(b.BinData), `{"amount":30}`)
		}
	})

	t.Run("rollback", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.SetSticky("TransIn", busi.Failure)
		noErr(t, "submit", e.saga(g).Submit())
		e.afterPass(g, 1, failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, succeed, succeed, failed))
		// The compensation of the failed action is called too (trap 2), in reverse order.
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action", "TransInRevert/02/compensate", "TransOutRevert/01/compensate"})
		glob := e.D.Global(g)
		// DTM: "url:<url> return failed: " + the reply body with " FAILURE" appended once
		// (HTTPResp2DtmError -> ErrorMessage2Error, protocol §1.4 and §5.2.1).
		eq(t, "rollback_reason", glob.RollbackReason,
			"url:"+e.B.URL("TransIn")+` return failed: {"dtm_result":"FAILURE","message":"scripted failure"} FAILURE`)
		if glob.RollbackTime == "" || glob.FinishTime != "" {
			t.Errorf("a failed saga has rollback_time %q and finish_time %q, want only rollback_time", glob.RollbackTime, glob.FinishTime)
		}
	})

	t.Run("rollback with an empty compensation url", func(t *testing.T) {
		// An empty URL is an immediate success, without a call (protocol §4.1).
		e := newEnv(t)
		g := gid(t)
		s := dtmcli.NewSaga(e.D.Server(), g).
			Add(e.B.URL("TransOut"), "", req{Amount: 30}).
			Add(e.B.URL("TransIn"), e.B.URL("TransInRevert"), req{Amount: 30})
		e.B.SetSticky("TransIn", busi.Failure)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, succeed, succeed, failed))
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action", "TransInRevert/02/compensate"})
	})

	t.Run("action ongoing then cron", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.Script("TransOut", busi.Ongoing)
		noErr(t, "submit", e.saga(g).Submit())
		e.afterPass(g, 1, submitted)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, prepared, prepared, prepared))
		e.noCron(0) // not due yet: ONGOING keeps the 10 s interval
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, succeed, prepared, succeed))
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransOut/01/action", "TransIn/02/action"})
	})

	t.Run("compensation error then cron", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.SetSticky("TransIn", busi.Failure)
		e.B.Script("TransOutRevert", busi.Error)
		noErr(t, "submit", e.saga(g).Submit())
		e.afterPass(g, 1, aborting)
		// An error backs off: the interval doubles (10 -> 20 s).
		eq(t, "next_cron_interval", e.D.Global(g).NextCronInterval, int64(20))
		e.noCron(15)
		e.cron(25, g)
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, succeed, succeed, failed))
		eq(t, "TransOutRevert calls", len(e.B.Calls("TransOutRevert", g)), 2)
	})

	t.Run("duplicate submit", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.Script("TransIn", busi.Ongoing)
		s := e.saga(g)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, submitted)
		// A duplicate submit of a submitted saga is accepted and processes the branches again
		// (protocol §5.7; dtmd re-processes the stored branches: docs/compatibility.md).
		noErr(t, "second submit", s.Submit())
		e.afterPass(g, 2, succeed)
		// Submitting a finished saga is an error (409 "cannot sumbmit").
		isErr(t, "submit after succeed", s.Submit(), "FAILURE")
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action", "TransIn/02/action"})
	})

	t.Run("empty action url", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := dtmcli.NewSaga(e.D.Server(), g).
			Add("", e.B.URL("TransOutRevert"), req{Amount: 30}).
			Add(e.B.URL("TransIn"), e.B.URL("TransInRevert"), req{Amount: 30})
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, succeed, prepared, succeed))
		eq(t, "calls", e.B.Sequence(g), []string{"TransIn/02/action"})
	})

	t.Run("payload passthrough", func(t *testing.T) {
		// Whatever the SDK marshals reaches the branch byte for byte: objects, strings with
		// non-ASCII and escapes, numbers, nil (sent as "null", so still a POST: protocol §4.2).
		e := newEnv(t)
		g := gid(t)
		payloads := []interface{}{
			map[string]interface{}{"amount": 30, "nested": map[string]interface{}{"list": []int{1, 2}}},
			"text with \"quotes\", \\ and ünïcødé ✓",
			12.5,
			nil,
		}
		s := dtmcli.NewSaga(e.D.Server(), g)
		for range payloads {
			s.Add(e.B.URL("Step"), e.B.URL("StepRevert"), nil)
		}
		s.Payloads = nil
		for _, p := range payloads {
			s.Payloads = append(s.Payloads, mustJSON(p))
		}
		e.B.Script("Step", busi.Success, busi.Success, busi.Success, busi.Failure)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, failed)
		actions := e.B.Calls("Step", g)
		reverts := e.B.Calls("StepRevert", g)
		mustEq(t, "action calls", len(actions), 4)
		mustEq(t, "compensate calls", len(reverts), 4)
		for i, p := range payloads {
			eq(t, "action body", string(actions[i].Body), mustJSON(p))
			eq(t, "action method", actions[i].Method, http.MethodPost)
			// compensations run in reverse order with the step's own payload
			eq(t, "compensate body", string(reverts[3-i].Body), mustJSON(p))
		}
	})

	t.Run("large payload", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		big := strings.Repeat("0123456789abcdef", 64*1024) // 1 MiB
		s := dtmcli.NewSaga(e.D.Server(), g).Add(e.B.URL("TransOut"), e.B.URL("TransOutRevert"), req{Amount: 1, Note: big})
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		c := e.B.Calls("TransOut", g)
		mustEq(t, "calls", len(c), 1)
		if string(c[0].Body) != mustJSON(req{Amount: 1, Note: big}) {
			t.Errorf("1 MiB payload changed on the way: %d bytes arrived", len(c[0].Body))
		}
		// docs/compatibility.md: bodies over MaxBodyBytes (4 MiB) are refused with 413.
		huge := strings.Repeat("x", 5<<20)
		g2 := gid(t)
		isErr(t, "5 MiB submit", dtmcli.NewSaga(e.D.Server(), g2).Add(e.B.URL("TransOut"), "", huge).Submit(), "")
		eq(t, "refused transaction stored", e.D.Status(g2), "")
	})

	t.Run("gid with special characters", func(t *testing.T) {
		// Query encoding on dtmd's side: '+', ' ', '/', '%', '&', '=' and non-ASCII survive.
		e := newEnv(t)
		g := "a+b c/d%e&f=g-ü-" + gid(t)
		noErr(t, "submit", e.saga(g).Submit())
		e.afterPass(g, 1, succeed)
		calls := e.B.Calls("", g)
		mustEq(t, "calls", len(calls), 2)
		eq(t, "gid received", calls[0].Get("gid"), g)
	})

	t.Run("branch url with a query", func(t *testing.T) {
		// dtmd merges gid/trans_type/branch_id/op into the URL's own query (as resty does).
		e := newEnv(t)
		g := gid(t)
		s := dtmcli.NewSaga(e.D.Server(), g).
			Add(e.B.URL("TransOut")+"?account=a%2F1&mode=fast", e.B.URL("TransOutRevert")+"?account=a%2F1", req{Amount: 30})
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		c := e.B.Calls("TransOut", g)
		mustEq(t, "calls", len(c), 1)
		eq(t, "account", c[0].Query.Get("account"), "a/1")
		eq(t, "mode", c[0].Query.Get("mode"), "fast")
		eq(t, "gid", c[0].Get("gid"), g)
		eq(t, "branch_id", c[0].Get("branch_id"), "01")
	})

	t.Run("branch headers on first call and cron retry", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.BranchHeaders = map[string]string{"test_header": "test", "X-Trace-Id": "abc 123"}
		e.B.Script("TransIn", busi.Ongoing)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, submitted)
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), succeed)
		calls := e.B.Calls("", g)
		mustEq(t, "calls", len(calls), 3)
		for _, c := range calls {
			eq(t, c.String()+" test_header", c.Meta("test_header"), "test")
			eq(t, c.String()+" X-Trace-Id", c.Meta("X-Trace-Id"), "abc 123")
		}
		eq(t, "stored branch_headers", e.D.Global(g).BranchHeaders, s.BranchHeaders)
	})

	t.Run("retry_interval", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.RetryInterval = 150
		e.B.Script("TransOut", busi.Error, busi.Ongoing)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, submitted)
		// The error backs off from the transaction's own 150 s interval to 300 s.
		eq(t, "next_cron_interval after an error", e.D.Global(g).NextCronInterval, int64(300))
		e.noCron(180)
		e.cron(360, g) // ONGOING now: the interval stays 300 s, counted from the pass (+360 s)
		eq(t, "status", e.D.Status(g), submitted)
		eq(t, "next_cron_interval after ongoing", e.D.Global(g).NextCronInterval, int64(300))
		e.noCron(600)
		e.cron(700, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "TransOut calls", len(e.B.Calls("TransOut", g)), 3)
	})

	t.Run("timeout_to_fail", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.TimeoutToFail = 1800
		e.B.SetSticky("TransOut", busi.Ongoing)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, submitted)
		e.cron(3600, g)
		eq(t, "status", e.D.Status(g), failed)
		// The action may have taken effect: its compensation runs (protocol §5.2.2).
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, prepared, prepared, prepared))
		reason := e.D.Global(g).RollbackReason
		if !regexp.MustCompile(`^Timeout after \d+ seconds$`).MatchString(reason) {
			t.Errorf("rollback_reason %q does not match 'Timeout after N seconds'", reason)
		}
	})

	t.Run("options round trip", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.TimeoutToFail, s.RetryInterval, s.RequestTimeout, s.RetryLimit = 1800, 120, 7, 4
		s.BranchHeaders = map[string]string{"h1": "v1"}
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		glob := e.D.Global(g)
		eq(t, "flattened options", []int64{glob.TimeoutToFail, glob.RetryInterval, glob.RequestTimeout, glob.RetryLimit}, []int64{1800, 120, 7, 4})
		eq(t, "branch_headers", glob.BranchHeaders, s.BranchHeaders)
		var opts map[string]interface{}
		if err := json.Unmarshal([]byte(glob.Options), &opts); err != nil {
			t.Fatalf("options %q: %v", glob.Options, err)
		}
		eq(t, "options.timeout_to_fail", opts["timeout_to_fail"], float64(1800))
		eq(t, "options.retry_limit", opts["retry_limit"], float64(4))
		eq(t, "options.concurrent", opts["concurrent"], false)
	})

	t.Run("request_timeout", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.WithGlobalTransRequestTimeout(1)
		var slow atomic.Bool
		slow.Store(true)
		e.B.Handle("TransOut", func(r *busi.Request) error {
			if slow.Swap(false) {
				time.Sleep(1500 * time.Millisecond)
			}
			return nil
		})
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, submitted) // the 1 s branch timeout hit: a retryable error
		eq(t, "request_timeout", e.D.Global(g).RequestTimeout, int64(1))
		e.cron(25, g)
		eq(t, "status", e.D.Status(g), succeed)
	})

	t.Run("wait_result", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.WaitResult = true
		noErr(t, "submit", s.Submit())
		// no waiting: the submit answered after the processing
		eq(t, "status right after submit", e.D.Status(g), succeed)
		eq(t, "calls", len(e.B.Calls("", g)), 2)
	})

	t.Run("wait_result ongoing", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.WaitResult = true
		e.B.Script("TransOut", busi.Ongoing)
		// A pending saga answers 409 "wait result not return success" (protocol §6.6).
		isErr(t, "submit with wait_result of a pending saga", s.Submit(), "wait result not return success")
		eq(t, "status", e.D.Status(g), submitted)
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), succeed)
	})

	t.Run("wait_result failure", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.WaitResult = true
		// A plain error (HTTP 500) whose body contains FAILURE is a FAILURE (protocol §4.2, trap 1).
		e.B.Handle("TransIn", func(r *busi.Request) error {
			return errors.New("insufficient balance " + dtmcli.ResultFailure)
		})
		err := s.Submit()
		isErr(t, "submit", err, "insufficient balance")
		eq(t, "status", e.D.Status(g), failed)
		contains(t, "rollback_reason", e.D.Global(g).RollbackReason, "insufficient balance")
	})

	t.Run("retry_limit", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.WaitResult = true
		s.WithRetryLimit(3)
		e.B.Script("TransIn", busi.Error, busi.Error, busi.Error)
		noErr(t, "submit", s.Submit())
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, succeed, prepared, succeed))
		eq(t, "TransIn calls", len(e.B.Calls("TransIn", g)), 4)
	})

	t.Run("retry_limit exhausted", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g)
		s.WaitResult = true
		s.WithRetryLimit(1)
		e.B.Script("TransIn", busi.Error, busi.Error, busi.Error)
		err := s.Submit()
		if err == nil {
			t.Fatal("submit: expected an error once the retry limit is exhausted")
		}
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, succeed, succeed, prepared))
		eq(t, "rollback_reason", e.D.Global(g).RollbackReason, "RetryCount is greater than RetryLimit, RetryLimit: 1")
		eq(t, "TransIn calls", len(e.B.Calls("TransIn", g)), 2)
	})
}

func TestSagaConcurrent(t *testing.T) {
	t.Run("normal", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g).SetConcurrent()
		// TransOut answers only once TransIn has been called: only concurrent steps finish.
		e.B.Handle("TransOut", func(r *busi.Request) error {
			if len(e.B.WaitCalls("TransIn", g, 1, 2*time.Second)) == 0 {
				return errors.New("TransIn was not called while TransOut was running")
			}
			return nil
		})
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, succeed, prepared, succeed))
		eq(t, "custom_data", e.D.Global(g).CustomData, `{"concurrent":true,"orders":{}}`)
	})

	t.Run("order, first fails", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g).SetConcurrent().AddBranchOrder(1, []int{0})
		e.B.SetSticky("TransOut", busi.Failure)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, failed, prepared, prepared))
		// TransIn waited for TransOut and never started; TransOut's compensation ran.
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransOutRevert/01/compensate"})
	})

	t.Run("order, second fails", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g).SetConcurrent().AddBranchOrder(1, []int{0})
		e.B.SetSticky("TransIn", busi.Failure)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, succeed, succeed, failed))
		// Compensations wait for the steps that depend on them: TransIn's before TransOut's.
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action", "TransInRevert/02/compensate", "TransOutRevert/01/compensate"})
	})

	t.Run("first ongoing", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g).SetConcurrent()
		e.B.Script("TransOut", busi.Ongoing)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, submitted)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, prepared, prepared, succeed))
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "TransIn calls", len(e.B.Calls("TransIn", g)), 1)
	})

	t.Run("first fails, compensation ongoing", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.saga(g).SetConcurrent()
		e.B.SetSticky("TransOut", busi.Failure)
		e.B.Script("TransOutRevert", busi.Ongoing)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, aborting)
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), failed)
	})
}
