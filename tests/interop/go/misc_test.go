package interop

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmcli/dtmimp"
	"github.com/go-resty/resty/v2"

	"lynx-dtm/interop/internal/busi"
	"lynx-dtm/interop/internal/dtmd"
)

func TestAlertWebHook(t *testing.T) {
	e := newEnvWith(t, func(b *busi.Server) dtmd.Options {
		return dtmd.Options{ExtraYAML: "AlertWebHook: " + b.URL("AlertWebHook") + "\n"}
	})
	g := gid(t)
	e.B.Script("TransIn", busi.Error, busi.Error, busi.Error)
	e.B.SetSticky("AlertWebHook", busi.Error) // a failing webhook must not disturb processing
	noErr(t, "submit", e.msg(g).Submit())
	e.afterPass(g, 1, submitted) // 1st failure: back-off 20 s
	e.cron(25, g)                // 2nd: 40 s
	eq(t, "webhook calls before the 3rd failure", len(e.B.Calls("AlertWebHook", "")), 0)
	e.cron(70, g) // 3rd: 80 s, log2(80/10) = 3 >= AlertRetryLimit
	hooks := e.B.WaitCalls("AlertWebHook", "", 1, 5*time.Second)
	mustEq(t, "webhook calls", len(hooks), 1)
	var alert struct {
		Gid        string `json:"gid"`
		Status     string `json:"status"`
		Branch     string `json:"branch"`
		Error      string `json:"error"`
		RetryCount int    `json:"retry_count"`
	}
	if err := json.Unmarshal(hooks[0].Body, &alert); err != nil {
		t.Fatalf("webhook body %q: %v", hooks[0].Body, err)
	}
	eq(t, "alert gid", alert.Gid, g)
	eq(t, "alert status", alert.Status, submitted)
	eq(t, "alert branch", alert.Branch, e.B.URL("TransIn"))
	eq(t, "alert retry_count", alert.RetryCount, 3)
	contains(t, "alert error", alert.Error, "scripted error")
	e.cron(155, g)
	eq(t, "status", e.D.Status(g), succeed)
}

// JSON-RPC (/api/json-rpc, checklist §13.3-13.4): the Go SDK with Protocol "json-rpc" talks to
// dtmd's JSON-RPC endpoint, and dtmd calls JSON-RPC branches (busi's /api/busi/json-rpc).
func TestJsonRpc(t *testing.T) {
	jrpc := func(e *env) string { return fmt.Sprintf("http://127.0.0.1:%d/api/json-rpc", e.D.HTTPPort) }
	msg := func(e *env, g string) *dtmcli.Msg {
		m := dtmcli.NewMsg(jrpc(e), g).
			Add(e.B.JrpcURL("TransOut"), req{Amount: 30}).
			Add(e.B.JrpcURL("TransIn"), req{Amount: 30})
		m.Protocol = dtmimp.Jrpc
		return m
	}
	t.Run("msg normal", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := msg(e, g)
		noErr(t, "prepare", m.Prepare(e.B.JrpcURL("QueryPrepared")))
		eq(t, "status after prepare", e.D.Status(g), prepared)
		noErr(t, "submit", m.Submit())
		e.waitStatus(g, succeed)
		calls := e.B.Calls("TransOut", g)
		mustEq(t, "TransOut calls", len(calls), 1)
		eq(t, "protocol", calls[0].Proto, "jrpc")
		eq(t, "op", calls[0].Get("op"), "action")
		eq(t, "branch_id", calls[0].Get("branch_id"), "01")
		contains(t, "params", string(calls[0].Body), `"amount":30`)
		isErr(t, "re-submit after success", m.Submit(), "-32901")
	})
	t.Run("branch error retried", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.Script("TransIn", busi.Error, busi.Ongoing) // -32603, then -32902: retried
		noErr(t, "submit", msg(e, g).Submit())
		e.afterPass(g, 1, submitted)
		e.cron(3600, g)
		eq(t, "status after ONGOING", e.D.Status(g), submitted)
		e.cron(7200, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "TransIn calls", len(e.B.Calls("TransIn", g)), 3)
	})
	t.Run("DoAndSubmit", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := msg(e, g).DoAndSubmit(e.B.JrpcURL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error { return nil })
		noErr(t, "DoAndSubmit", err)
		e.waitStatus(g, succeed)
		g2 := gid(t)
		err = msg(e, g2).DoAndSubmit(e.B.JrpcURL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error {
			return dtmcli.ErrFailure
		})
		if err == nil {
			t.Fatal("DoAndSubmit with a failing business step: expected an error")
		}
		eq(t, "status after a failed local step", e.D.Status(g2), failed)
		eq(t, "TransOut never called", len(e.B.Calls("TransOut", g2)), 0)
	})
	t.Run("tcc normal", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := dtmcli.TccGlobalTransaction2(jrpc(e), g, func(tcc *dtmcli.Tcc) { tcc.Protocol = dtmimp.Jrpc },
			func(tcc *dtmcli.Tcc) (*resty.Response, error) {
				return tcc.CallBranch(req{Amount: 30}, e.B.URL("TransOut"), e.B.JrpcURL("TransOutConfirm"), e.B.JrpcURL("TransOutRevert"))
			})
		noErr(t, "tcc", err)
		e.waitStatus(g, succeed)
		confirms := e.B.Calls("TransOutConfirm", g)
		mustEq(t, "confirm calls", len(confirms), 1)
		eq(t, "confirm protocol", confirms[0].Proto, "jrpc")
		eq(t, "confirm op", confirms[0].Get("op"), "confirm")
		eq(t, "no cancel", len(e.B.Calls("TransOutRevert", g)), 0)
	})
	t.Run("newGid", func(t *testing.T) {
		e := newEnv(t)
		r := e.D.Raw("POST", "/api/json-rpc", nil, []byte(`{"jsonrpc":"2.0","id":"1","method":"newGid","params":""}`))
		mustEq(t, "status", r.Status, 200)
		var v struct {
			ID     string
			Error  interface{}
			Result struct{ Gid string }
		}
		r.JSON(t, &v)
		eq(t, "id", v.ID, "1")
		eq(t, "error", v.Error, nil)
		if v.Result.Gid == "" {
			t.Fatalf("no gid in %s", r.Body)
		}
	})
	t.Run("malformed requests", func(t *testing.T) {
		e := newEnv(t)
		for body, code := range map[string]float64{
			`{"jsonrpc":"2.0",`:                            -32700,
			`{"jsonrpc":"2.0","id":"","method":"newGid"}`:  -32600,
			`{"jsonrpc":"1.0","id":"1","method":"newGid"}`: -32600,
			`{"jsonrpc":"2.0","id":"1","method":"nope"}`:   -32601,
			`{"jsonrpc":"2.0","id":"1","method":"registerBranch","params":{"gid":"x","branch_id":"01","trans_type":"nope"}}`: -32603,
		} {
			r := e.D.Raw("POST", "/api/json-rpc", nil, []byte(body))
			mustEq(t, "status of "+body, r.Status, 200)
			var v struct{ Error struct{ Code float64 } }
			r.JSON(t, &v)
			eq(t, "code of "+body, v.Error.Code, code)
		}
	})
}

func TestConcurrentClients(t *testing.T) {
	// Many Go clients at once against one dtmd: every transaction finishes exactly once.
	e := newEnv(t)
	const n = 24
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	sagas := make([]string, n)
	tccs := make([]string, n)
	for i := 0; i < n; i++ {
		sagas[i], tccs[i] = gid(t), gid(t)
		wg.Add(2)
		go func(g string) {
			defer wg.Done()
			s := e.saga(g)
			s.WaitResult = true
			if err := s.Submit(); err != nil {
				errs <- fmt.Errorf("saga %s: %w", g, err)
			}
		}(sagas[i])
		go func(g string) {
			defer wg.Done()
			err := dtmcli.TccGlobalTransaction2(e.D.Server(), g, func(tcc *dtmcli.Tcc) { tcc.WaitResult = true },
				func(tcc *dtmcli.Tcc) (*resty.Response, error) { return e.tccTransfer(tcc) })
			if err != nil {
				errs <- fmt.Errorf("tcc %s: %w", g, err)
			}
		}(tccs[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := 0; i < n; i++ {
		eq(t, "saga status", e.D.Status(sagas[i]), succeed)
		eq(t, "saga calls", e.B.Sequence(sagas[i]), []string{"TransOut/01/action", "TransIn/02/action"})
		eq(t, "tcc status", e.D.Status(tccs[i]), succeed)
		eq(t, "tcc calls", len(e.B.Calls("", tccs[i])), 4)
	}
}
