package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmgrpc"
	"github.com/dtm-labs/client/dtmgrpc/dtmgimp"
	"github.com/dtm-labs/client/dtmgrpc/dtmgpb"
	"google.golang.org/grpc/codes"

	"lynx-dtm/interop/internal/busi"
)

func TestNewGid(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for i := 0; i < 3; i++ {
		for _, g := range []string{dtmcli.MustGenGid(e.D.Server()), dtmgrpc.MustGenGid(e.D.GrpcServer())} {
			eq(t, "gid length (shortuuid)", len(g), 22)
			if seen[g] {
				t.Errorf("gid %s returned twice", g)
			}
			seen[g] = true
		}
	}
	// The reply keeps dtm_result for SDKs older than v1.10 (protocol §2.2).
	r := e.D.Get("newGid", nil)
	var v map[string]string
	r.JSON(t, &v)
	eq(t, "newGid dtm_result", v["dtm_result"], "SUCCESS")
}

func TestVersionAndMetrics(t *testing.T) {
	e := newEnv(t)
	var v struct{ Version string }
	r := e.D.Get("version", nil)
	eq(t, "version status", r.Status, 200)
	r.JSON(t, &v)
	// docs/compatibility.md: v1.19.0-dtmd-<version>.
	if !strings.HasPrefix(v.Version, "v1.19.0-dtmd-") {
		t.Errorf("version %q does not start with v1.19.0-dtmd-", v.Version)
	}
	g := gid(t)
	noErr(t, "submit", e.saga(g).Submit())
	e.afterPass(g, 1, succeed)
	m := e.D.Raw("GET", "/api/metrics", nil, nil)
	eq(t, "metrics status", m.Status, 200)
	for _, name := range []string{"dtm_server_process_total", "dtm_transaction_process_total", "dtm_branch_process_total"} {
		contains(t, "metrics", string(m.Body), name)
	}
}

func TestQuery(t *testing.T) {
	e := newEnv(t)
	g := gid(t)
	noErr(t, "submit", e.saga(g).Submit())
	e.afterPass(g, 1, succeed)
	glob := e.D.Global(g)
	eq(t, "gid", glob.Gid, g)
	if glob.FinishTime == "" || glob.CreateTime == "" {
		t.Errorf("create_time / finish_time missing: %+v", glob)
	}
	// options always holds at least {"concurrent":false} (protocol §2.4).
	var opts map[string]interface{}
	if err := json.Unmarshal([]byte(glob.Options), &opts); err != nil {
		t.Errorf("options %q is not JSON: %v", glob.Options, err)
	} else if c, ok := opts["concurrent"]; !ok || c != false {
		t.Errorf("options %q lacks concurrent:false", glob.Options)
	}

	// Unknown gid: transaction null, branches [] (not null).
	r := e.D.Get("query", url.Values{"gid": {"no-such-gid"}})
	eq(t, "unknown gid status", r.Status, 200)
	var raw map[string]json.RawMessage
	r.JSON(t, &raw)
	eq(t, "unknown gid transaction", string(raw["transaction"]), "null")
	eq(t, "unknown gid branches", string(raw["branches"]), "[]")

	// No gid: 500 "no gid specified" (protocol §2.9).
	r = e.D.Get("query", nil)
	eq(t, "query without gid status", r.Status, 500)
	contains(t, "query without gid", string(r.Body), "no gid specified")
}

func TestAll(t *testing.T) {
	e := newEnv(t)
	var gids []string
	for i := 0; i < 3; i++ {
		g := gid(t)
		noErr(t, "submit", e.saga(g).Submit())
		e.afterPass(g, 1, succeed)
		gids = append(gids, g)
	}
	gm := gid(t)
	noErr(t, "msg submit", e.msg(gm).Submit())
	e.afterPass(gm, 1, succeed)

	type page struct {
		Transactions []struct {
			Gid       string `json:"gid"`
			TransType string `json:"trans_type"`
			Status    string `json:"status"`
		} `json:"transactions"`
		NextPosition string `json:"next_position"`
	}
	all := func(params url.Values) page {
		t.Helper()
		r := e.D.Get("all", params)
		if r.Status != 200 {
			t.Fatalf("all %v: %d %s", params, r.Status, r.Body)
		}
		var p page
		r.JSON(t, &p)
		return p
	}

	// Paging with limit=1 visits every transaction once.
	var visited []string
	pos := ""
	for i := 0; i < 10; i++ {
		p := all(url.Values{"limit": {"1"}, "position": {pos}})
		for _, tr := range p.Transactions {
			visited = append(visited, tr.Gid)
		}
		if p.NextPosition == "" {
			break
		}
		if p.NextPosition == pos {
			t.Fatalf("paging: next_position did not move from %q", pos)
		}
		pos = p.NextPosition
	}
	want := append(append([]string(nil), gids...), gm)
	sort.Strings(visited)
	sort.Strings(want)
	eq(t, "paged gids", visited, want)

	big := all(url.Values{"limit": {"100"}})
	eq(t, "rows with a large limit", len(big.Transactions), 4)
	eq(t, "next_position with a large limit", big.NextPosition, "")

	one := all(url.Values{"gid": {gids[1]}})
	mustEq(t, "rows for one gid", len(one.Transactions), 1)
	eq(t, "gid filter", one.Transactions[0].Gid, gids[1])

	// /all?gid=<unknown> answers "transactions": null (trap 15, kept).
	r := e.D.Get("all", url.Values{"gid": {"no-such-gid"}})
	var raw map[string]json.RawMessage
	r.JSON(t, &raw)
	eq(t, "unknown gid transactions", string(raw["transactions"]), "null")

	now := time.Now().UnixMilli()
	msgs := all(url.Values{"status": {"succeed"}, "transType": {"msg"},
		"createTimeStart": {fmt.Sprint(now - 60000)}, "createTimeEnd": {fmt.Sprint(now + 60000)}})
	mustEq(t, "msg rows", len(msgs.Transactions), 1)
	eq(t, "msg row", msgs.Transactions[0].Gid, gm)
	eq(t, "msg next_position", msgs.NextPosition, "")
	past := all(url.Values{"createTimeStart": {fmt.Sprint(now - 7200000)}, "createTimeEnd": {fmt.Sprint(now - 3600000)}})
	eq(t, "rows in a past window", len(past.Transactions), 0)
}

func TestAdmin(t *testing.T) {
	t.Run("forceStop", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.SetSticky("TransOut", busi.Ongoing)
		noErr(t, "submit", e.saga(g).Submit())
		e.afterPass(g, 1, submitted)
		r := e.D.Post("forceStop", map[string]string{"gid": g})
		eq(t, "forceStop of an ongoing saga", r.Status, 200)
		eq(t, "status", e.D.Status(g), failed)
		e.noCron(3600) // nothing left to do
		r = e.D.Post("forceStop", map[string]string{"gid": g})
		eq(t, "forceStop of a finished saga", r.Status, 409)
	})

	t.Run("resetNextCronTime", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.Script("TransOut", busi.Error, busi.Error)
		noErr(t, "submit", e.saga(g).Submit())
		e.afterPass(g, 1, submitted)
		e.cron(25, g) // second error: the next pass is 40 s after that
		e.noCron(30)
		r := e.D.Post("resetNextCronTime", map[string]string{"gid": g})
		eq(t, "resetNextCronTime", r.Status, 200)
		e.cron(1, g) // due now
		eq(t, "status", e.D.Status(g), succeed)
	})

	t.Run("resetCronTime", func(t *testing.T) {
		e := newEnv(t)
		// Three sagas due in 200 s and one due in 95 s (their own retry_interval, ONGOING).
		e.B.SetSticky("TransOut", busi.Ongoing)
		var late []string
		for i, interval := range []int64{200, 200, 200, 95} {
			g := gid(t)
			s := e.saga(g)
			s.RetryInterval = interval
			noErr(t, "submit", s.Submit())
			e.afterPass(g, 1, submitted)
			if i < 3 {
				late = append(late, g)
			}
		}
		reset := func(params url.Values) (int, bool) {
			t.Helper()
			var v struct {
				SucceedCount int  `json:"succeed_count"`
				HasRemaining bool `json:"has_remaining"`
			}
			r := e.D.Get("resetCronTime", params)
			if r.Status != 200 {
				t.Fatalf("resetCronTime %v: %d %s", params, r.Status, r.Body)
			}
			r.JSON(t, &v)
			return v.SucceedCount, v.HasRemaining
		}
		n, more := reset(url.Values{"timeout": {"100"}, "limit": {"2"}})
		eq(t, "first reset", []interface{}{n, more}, []interface{}{2, true})
		n, more = reset(url.Values{"timeout": {"100"}, "limit": {"2"}})
		eq(t, "second reset", []interface{}{n, more}, []interface{}{1, false})
		// The three late sagas are due now (and finish: TransOut succeeds from now on).
		e.B.SetSticky("TransOut", "")
		var picked []string
		for i := 0; i < 3; i++ {
			picked = append(picked, e.D.CronOnce(0))
		}
		sort.Strings(picked)
		sort.Strings(late)
		eq(t, "due after the reset", picked, late)
		n, more = reset(url.Values{"timeout": {"88"}, "limit": {"2"}})
		eq(t, "reset of the 95 s saga", []interface{}{n, more}, []interface{}{1, false})
		n, more = reset(url.Values{"timeout": {"88"}, "limit": {"2"}})
		eq(t, "nothing left to reset", []interface{}{n, more}, []interface{}{0, false})
	})
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	g := gid(t)
	s := e.saga(g)
	s.WaitResult = true
	noErr(t, "submit", s.Submit())

	// Wrong-state requests are FAILUREs (409) the SDK reports as errors (protocol §2.4-2.7).
	isErr(t, "prepare of a finished saga", dtmcli.NewMsg(e.D.Server(), g).Prepare(""), "cannot prepare")
	r := e.D.Post("abort", map[string]string{"gid": g, "trans_type": "saga"})
	eq(t, "abort of a saga: status", r.Status, 409)
	contains(t, "abort of a saga", string(r.Body), "cannot abort")
	r = e.D.Post("registerBranch", map[string]string{"gid": g, "trans_type": "tcc", "branch_id": "01", "confirm": "x", "cancel": "y", "data": "{}"})
	eq(t, "registerBranch on a finished transaction: status", r.Status, 409)
	r = e.D.Post("registerBranch", map[string]string{"gid": "no-such-gid", "trans_type": "tcc", "branch_id": "01", "confirm": "x", "cancel": "y", "data": "{}"})
	eq(t, "registerBranch on an unknown gid: status", r.Status, 409)

	// Abort of an unknown gid: 500 "no TransGlobal with gid" (protocol §2.6).
	r = e.D.Post("abort", map[string]string{"gid": "no-such-gid", "trans_type": "tcc"})
	eq(t, "abort of an unknown gid: status", r.Status, 500)

	// docs/compatibility.md: malformed requests are answered 400 (DTM: 500), nothing stored.
	r = e.D.Post("submit", map[string]interface{}{"trans_type": "saga"})
	eq(t, "submit without gid: status", r.Status, 400)
	r = e.D.Raw("POST", "/api/dtmsvr/submit", nil, []byte(`{"gid":`))
	eq(t, "submit with bad JSON: status", r.Status, 400)
	// docs/compatibility.md: unknown routes get a JSON 404.
	r = e.D.Raw("GET", "/api/dtmsvr/nothing", nil, nil)
	eq(t, "unknown route: status", r.Status, 404)
	var v map[string]interface{}
	r.JSON(t, &v)

	// gRPC: a submit with only a gid is refused (docs/compatibility.md: INVALID_ARGUMENT; DTM
	// panics -> Internal), a prepare of a finished transaction is Aborted (FAILURE).
	dc := dtmgimp.MustGetDtmClient(e.D.GrpcServer())
	_, err := dc.Submit(context.Background(), &dtmgpb.DtmRequest{Gid: gid(t)})
	eq(t, "grpc submit with only a gid: code", grpcCode(err), codes.InvalidArgument)
	_, err = dc.Prepare(context.Background(), &dtmgpb.DtmRequest{Gid: g, TransType: "msg", Steps: "null"})
	eq(t, "grpc prepare of a finished transaction: code", grpcCode(err), codes.Aborted)
	_, err = dc.Abort(context.Background(), &dtmgpb.DtmRequest{Gid: g, TransType: "saga"})
	eq(t, "grpc abort of a saga: code", grpcCode(err), codes.Aborted)

	// DTM unreachable: the SDK reports an error.
	if err := dtmcli.NewSaga("http://127.0.0.1:1/api/dtmsvr", gid(t)).Add(e.B.URL("TransOut"), "", nil).Submit(); err == nil {
		t.Error("submit to an unreachable DTM: expected an error")
	}
}
