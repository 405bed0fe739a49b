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

// JSON-RPC (/api/json-rpc, checklist §13.3-13.4) is not supported by this dtmd
// (docs/compatibility.md: "JSON-RPC (/api/json-rpc): not yet").
func TestJsonRpc(t *testing.T) {
	t.Run("refused as documented", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := dtmcli.NewMsg(fmt.Sprintf("http://127.0.0.1:%d/api/json-rpc", e.D.HTTPPort), g).Add(e.B.URL("TransOut"), req{Amount: 1})
		m.Protocol = dtmimp.Jrpc
		if err := m.Submit(); err == nil {
			t.Fatal("a JSON-RPC submit: expected an error")
		}
		eq(t, "stored", e.D.Status(g), "")
	})
	for _, name := range []string{"msg normal", "branch error retried", "DoAndSubmit", "tcc normal", "newGid", "malformed requests"} {
		t.Run(name, func(t *testing.T) {
			t.Skip("JSON-RPC is not supported by this dtmd (docs/compatibility.md)")
		})
	}
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
