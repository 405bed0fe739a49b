package interop

import (
	"encoding/json"
	"errors"
	"net/url"
	"sort"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"

	"lynx-dtm/interop/internal/busi"
)

// msg is the two-step message of DTM's tests with its back-check route.
func (e *env) msg(gid string) *dtmcli.Msg {
	return dtmcli.NewMsg(e.D.Server(), gid).
		Add(e.B.URL("TransOut"), req{Amount: 30}).
		Add(e.B.URL("TransIn"), req{Amount: 30})
}

func (e *env) subscribe(topic, route, remark string) {
	e.t.Helper()
	r := e.D.Get("subscribe", url.Values{"topic": {topic}, "url": {e.B.URL(route)}, "remark": {remark}})
	if r.Status != 200 {
		e.t.Fatalf("subscribe %s %s: %d %s", topic, route, r.Status, r.Body)
	}
}

func TestMsg(t *testing.T) {
	t.Run("prepare and submit", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g)
		noErr(t, "prepare", m.Prepare(e.B.URL("QueryPrepared")))
		eq(t, "status after prepare", e.D.Status(g), prepared)
		eq(t, "branches after prepare", e.D.BranchStatuses(g), statuses(prepared, prepared))
		noErr(t, "duplicate prepare", m.Prepare(""))
		noErr(t, "submit", m.Submit())
		e.afterPass(g, 1, succeed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, succeed))
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action"})
		for _, c := range e.B.Calls("", g) {
			eq(t, c.Route+" method", c.Method, "POST")
			eq(t, c.Route+" trans_type", c.Get("trans_type"), "msg")
			eq(t, c.Route+" body", string(c.Body), `{"amount":30}`)
		}
		eq(t, "query_prepared", e.D.Global(g).QueryPrepared, e.B.URL("QueryPrepared"))
		isErr(t, "prepare after the end", m.Prepare(""), "FAILURE")
		isErr(t, "submit after the end", m.Submit(), "FAILURE")
	})

	t.Run("submit without prepare", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		noErr(t, "submit", e.msg(g).Submit())
		e.afterPass(g, 1, succeed)
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action"})
	})

	t.Run("branch retried until success", func(t *testing.T) {
		// A submitted msg never rolls back: FAILURE from a step is retried (protocol §5.3).
		e := newEnv(t)
		g := gid(t)
		e.B.Script("TransIn", busi.Failure, busi.Ongoing)
		noErr(t, "submit", e.msg(g).Submit())
		e.afterPass(g, 1, submitted)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, prepared))
		e.cron(25, g)
		eq(t, "status after ONGOING", e.D.Status(g), submitted)
		e.cron(50, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action", "TransIn/02/action", "TransIn/02/action"})
	})

	t.Run("steps run in order, stopping at an error", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.Script("TransOut", busi.Error)
		noErr(t, "submit", e.msg(g).Submit())
		e.afterPass(g, 1, submitted)
		eq(t, "calls of the first pass", e.B.Sequence(g), []string{"TransOut/01/action"})
		e.cron(25, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransOut/01/action", "TransIn/02/action"})
	})

	t.Run("abort prepared", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g)
		noErr(t, "prepare", m.Prepare(e.B.URL("QueryPrepared")))
		r := e.D.Post("abort", map[string]string{"gid": g, "trans_type": "msg"})
		eq(t, "abort status code", r.Status, 200)
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "calls", len(e.B.Calls("", g)), 0)
	})

	t.Run("back-check after timeout", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g)
		noErr(t, "prepare", m.Prepare(e.B.URL("QueryPrepared")))
		e.B.Script("QueryPrepared", busi.Ongoing)
		e.B.Script("TransIn", busi.Ongoing)
		e.cron(20, g) // not timed out (35 s by default): nothing is called
		eq(t, "back-checks before the timeout", len(e.B.Calls("QueryPrepared", g)), 0)
		e.cron(180, g) // back-check says ONGOING
		eq(t, "status", e.D.Status(g), prepared)
		e.cron(200, g) // back-check says SUCCESS; TransIn is ONGOING
		eq(t, "status", e.D.Status(g), submitted)
		e.cron(220, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, succeed))
		qp := e.B.Calls("QueryPrepared", g)
		mustEq(t, "back-checks", len(qp), 2)
		// The back-check is a GET without body, branch 00, op msg (protocol §5.3, trap 6).
		for _, c := range qp {
			eq(t, "back-check method", c.Method, "GET")
			eq(t, "back-check branch_id", c.Get("branch_id"), "00")
			eq(t, "back-check op", c.Get("op"), "msg")
			eq(t, "back-check trans_type", c.Get("trans_type"), "msg")
			eq(t, "back-check body", len(c.Body), 0)
		}
	})

	t.Run("back-check carries branch headers", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g)
		m.BranchHeaders = map[string]string{"test_header": "qp"}
		noErr(t, "prepare", m.Prepare(e.B.URL("QueryPrepared")+"?svc=orders"))
		e.cron(60, g)
		eq(t, "status", e.D.Status(g), succeed)
		qp := e.B.Calls("QueryPrepared", g)
		mustEq(t, "back-checks", len(qp), 1)
		eq(t, "back-check header", qp[0].Meta("test_header"), "qp")
		eq(t, "back-check own query", qp[0].Query.Get("svc"), "orders")
		eq(t, "step header", e.B.Calls("TransIn", g)[0].Meta("test_header"), "qp")
	})

	t.Run("no back-check url", func(t *testing.T) {
		// Prepare("") stores no query_prepared: at the timeout the empty back-check URL counts
		// as success (protocol §4.1) and the msg is submitted.
		e := newEnv(t)
		g := gid(t)
		noErr(t, "prepare", e.msg(g).Prepare(""))
		e.cron(60, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action"})
	})

	t.Run("back-check failure", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		noErr(t, "prepare", e.msg(g).Prepare(e.B.URL("QueryPrepared")))
		e.B.Script("QueryPrepared", busi.Ongoing, busi.Failure)
		e.cron(360, g)
		eq(t, "status", e.D.Status(g), prepared)
		e.cron(540, g)
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, prepared))
		eq(t, "branch calls", len(e.B.Calls("TransOut", g))+len(e.B.Calls("TransIn", g)), 0)
	})

	t.Run("timeout_to_fail", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g)
		m.TimeoutToFail = 120
		noErr(t, "prepare", m.Prepare(e.B.URL("QueryPrepared")))
		e.cron(60, g)
		eq(t, "status at +60 s", e.D.Status(g), prepared)
		eq(t, "back-checks at +60 s", len(e.B.Calls("QueryPrepared", g)), 0)
		e.cron(180, g)
		eq(t, "status at +180 s", e.D.Status(g), succeed)
	})

	t.Run("concurrent", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g)
		m.Concurrent = true
		e.B.Handle("TransOut", func(r *busi.Request) error {
			if len(e.B.WaitCalls("TransIn", g, 1, 2*time.Second)) == 0 {
				return errors.New("TransIn was not called while TransOut was running")
			}
			return nil
		})
		noErr(t, "submit", m.Submit())
		e.afterPass(g, 1, succeed)
	})

	t.Run("delay", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g).SetDelay(10)
		noErr(t, "submit", m.Submit())
		e.afterPass(g, 1, submitted)
		eq(t, "custom_data", e.D.Global(g).CustomData, `{"delay":10}`)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, prepared))
		eq(t, "calls before the delay", len(e.B.Calls("", g)), 0)
		e.noCron(0)
		e.noCron(8)
		e.cron(12, g)
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action"})
	})

	t.Run("prepare, then submit with a delay", func(t *testing.T) {
		// SetDelay only reaches dtmd with the submit (the SDK builds custom_data there): like
		// DTM, dtmd applies the submit request's options to the pass it starts (the stored
		// record keeps the prepare's options for later passes).
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g)
		noErr(t, "prepare", m.Prepare(e.B.URL("QueryPrepared")))
		m.SetDelay(10)
		noErr(t, "submit", m.Submit())
		e.afterPass(g, 1, submitted)
		eq(t, "calls before the delay", len(e.B.Calls("", g)), 0)
		e.noCron(8)
		e.cron(12, g)
		eq(t, "status", e.D.Status(g), succeed)
	})

	t.Run("prepare, then submit with wait_result", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g)
		noErr(t, "prepare", m.Prepare(e.B.URL("QueryPrepared")))
		m.WaitResult = true
		m.BranchHeaders = map[string]string{"test_header": "from submit"}
		e.B.Script("TransIn", busi.Ongoing)
		// A pending msg answers FAILURE "wait result not return success" (protocol §6.6).
		isErr(t, "submit", m.Submit(), "wait result not return success")
		eq(t, "status right after submit", e.D.Status(g), submitted)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, prepared))
		eq(t, "header of the submit's pass", e.B.Calls("TransOut", g)[0].Meta("test_header"), "from submit")
	})

	t.Run("wait_result", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := e.msg(g)
		m.WaitResult = true
		noErr(t, "submit", m.Submit())
		eq(t, "status right after submit", e.D.Status(g), succeed)
	})
}

func TestMsgTopics(t *testing.T) {
	e := newEnv(t)
	e.subscribe("interop_topic", "TransOut", "first")
	e.subscribe("interop_topic", "TransIn", "second")
	r := e.D.Get("subscribe", url.Values{"topic": {"interop_topic"}, "url": {e.B.URL("TransIn")}})
	if r.Status == 200 {
		t.Errorf("subscribing the same url twice: got 200, want an error")
	}

	// A topic step with two subscribers: branches 01-01 and 01-02, plus a plain step 02.
	g := gid(t)
	m := dtmcli.NewMsg(e.D.Server(), g).AddTopic("interop_topic", req{Amount: 7}).Add(e.B.URL("Other"), req{Amount: 8})
	noErr(t, "submit", m.Submit())
	e.afterPass(g, 1, succeed)
	var ids []string
	for _, b := range e.D.Query(g).Branches {
		ids = append(ids, b.BranchID)
	}
	eq(t, "branch ids", ids, []string{"01-01", "01-02", "02"})
	eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01-01/action", "TransIn/01-02/action", "Other/02/action"})
	eq(t, "topic body", string(e.B.Calls("TransIn", g)[0].Body), `{"amount":7}`)

	// queryKV / scanKV show the subscribers.
	var kv struct {
		Kv []struct {
			Cat string `json:"cat"`
			K   string `json:"k"`
			V   string `json:"v"`
		} `json:"kv"`
	}
	e.D.Get("queryKV", url.Values{"cat": {"topics"}, "key": {"interop_topic"}}).JSON(t, &kv)
	mustEq(t, "queryKV entries", len(kv.Kv), 1)
	contains(t, "topic subscribers", kv.Kv[0].V, e.B.URL("TransOut"))
	contains(t, "topic subscribers", kv.Kv[0].V, "second")

	// scanKV pages through the topics; queryKV of a missing topic is [].
	e.subscribe("interop_topic2", "Other", "")
	var topics []string
	pos := ""
	for i := 0; i < 5; i++ {
		var page struct {
			Kv []struct {
				K string `json:"k"`
			} `json:"kv"`
			NextPosition string `json:"next_position"`
		}
		e.D.Get("scanKV", url.Values{"cat": {"topics"}, "limit": {"1"}, "position": {pos}}).JSON(t, &page)
		if i == 0 && page.NextPosition == "" {
			t.Error("scanKV limit=1 over two topics: empty next_position on the first page")
		}
		for _, kv := range page.Kv {
			topics = append(topics, kv.K)
		}
		if page.NextPosition == "" {
			break
		}
		pos = page.NextPosition
	}
	sort.Strings(topics)
	eq(t, "scanned topics", topics, []string{"interop_topic", "interop_topic2"})
	var raw map[string]json.RawMessage
	e.D.Get("queryKV", url.Values{"cat": {"topics"}, "key": {"no_such_topic"}}).JSON(t, &raw)
	eq(t, "queryKV of a missing topic", string(raw["kv"]), "[]")

	// One subscriber left: the topic step is a plain 01.
	r = e.D.Get("unsubscribe", url.Values{"topic": {"interop_topic"}, "url": {e.B.URL("TransOut")}})
	eq(t, "unsubscribe", r.Status, 200)
	r = e.D.Get("unsubscribe", url.Values{"topic": {"interop_topic"}, "url": {e.B.URL("TransOut")}})
	if r.Status == 200 {
		t.Errorf("unsubscribing twice: got 200, want an error")
	}
	g2 := gid(t)
	noErr(t, "submit", dtmcli.NewMsg(e.D.Server(), g2).AddTopic("interop_topic", req{Amount: 9}).Submit())
	e.afterPass(g2, 1, succeed)
	eq(t, "calls", e.B.Sequence(g2), []string{"TransIn/01/action"})

	// Deleted topic: the submit fails with "topic not found" and nothing is stored.
	r = e.D.Raw("DELETE", "/api/dtmsvr/topic/interop_topic", nil, nil)
	eq(t, "delete topic", r.Status, 200)
	r = e.D.Raw("DELETE", "/api/dtmsvr/topic/interop_topic", nil, nil)
	if r.Status == 200 {
		t.Errorf("deleting a missing topic: got 200, want an error")
	}
	g3 := gid(t)
	isErr(t, "submit to a deleted topic", dtmcli.NewMsg(e.D.Server(), g3).AddTopic("interop_topic", req{Amount: 1}).Submit(), "topic not found")
	eq(t, "status of the refused msg", e.D.Status(g3), "")
}

func TestMsgDoAndSubmit(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		var seen *dtmcli.BranchBarrier
		err := e.msg(g).DoAndSubmit(e.B.URL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error {
			seen = bb
			eq(t, "status during busi", e.D.Status(g), prepared)
			return nil
		})
		noErr(t, "DoAndSubmit", err)
		eq(t, "barrier", [4]string{seen.TransType, seen.Gid, seen.BranchID, seen.Op}, [4]string{"msg", g, "00", "msg"})
		e.afterPass(g, 1, succeed)
		eq(t, "back-checks", len(e.B.Calls("QueryPrepared", g)), 0)
	})

	t.Run("busi failure aborts", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := e.msg(g).DoAndSubmit(e.B.URL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error {
			return dtmcli.ErrFailure
		})
		if !errors.Is(err, dtmcli.ErrFailure) {
			t.Fatalf("DoAndSubmit: got %v, want ErrFailure", err)
		}
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "calls", len(e.B.Calls("", g)), 0)
	})

	t.Run("busi error, back-check says failure", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.Script("QueryPrepared", busi.Failure)
		busiErr := errors.New("connection lost during commit")
		err := e.msg(g).DoAndSubmit(e.B.URL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error { return busiErr })
		if !errors.Is(err, busiErr) {
			t.Fatalf("DoAndSubmit: got %v, want the busi error", err)
		}
		eq(t, "status", e.D.Status(g), failed)
		qp := e.B.Calls("QueryPrepared", g)
		mustEq(t, "back-checks by the SDK", len(qp), 1)
		// The SDK's own back-check carries the dtm address (trap 5).
		eq(t, "back-check dtm", qp[0].Get("dtm"), e.D.Server())
	})

	t.Run("busi error, back-check says committed", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		busiErr := errors.New("reply lost after commit")
		err := e.msg(g).DoAndSubmit(e.B.URL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error { return busiErr })
		if !errors.Is(err, busiErr) {
			t.Fatalf("DoAndSubmit: got %v, want the busi error", err)
		}
		e.afterPass(g, 1, succeed)
		eq(t, "calls", e.B.Sequence(g), []string{"QueryPrepared/00/msg", "TransOut/01/action", "TransIn/02/action"})
	})
}
