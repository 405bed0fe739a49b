package interop

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmgrpc"
	"github.com/dtm-labs/client/dtmgrpc/dtmgimp"
	"github.com/dtm-labs/client/dtmgrpc/dtmgpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"lynx-dtm/interop/internal/busi"
)

func protoBytes(m proto.Message) string {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// sagaGrpc is the transfer saga over gRPC branches.
func (e *env) sagaGrpc(gid string, opts ...dtmgrpc.TransBaseOption) *dtmgrpc.SagaGrpc {
	return dtmgrpc.NewSagaGrpc(e.D.GrpcServer(), gid, opts...).
		Add(e.B.GrpcURL("TransOut"), e.B.GrpcURL("TransOutRevert"), wrapperspb.String("out 30")).
		Add(e.B.GrpcURL("TransIn"), e.B.GrpcURL("TransInRevert"), wrapperspb.String("in 30"))
}

func grpcCode(err error) codes.Code {
	st, _ := status.FromError(err)
	return st.Code()
}

func TestSagaGrpc(t *testing.T) {
	t.Run("normal", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		noErr(t, "submit", e.sagaGrpc(g).Submit())
		e.afterPass(g, 1, succeed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, succeed, prepared, succeed))
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action"})
		eq(t, "protocol", e.D.Global(g).Protocol, "grpc")
		calls := e.B.Calls("", g)
		mustEq(t, "calls", len(calls), 2)
		for i, want := range []string{protoBytes(wrapperspb.String("out 30")), protoBytes(wrapperspb.String("in 30"))} {
			c := calls[i]
			eq(t, c.Route+" proto", c.Proto, "grpc")
			eq(t, c.Route+" body (stored protobuf bytes)", string(c.Body), want)
			eq(t, c.Route+" dtm-trans_type", c.Get("trans_type"), "saga")
			// dtmd sends an empty dtm-dtm, as DTM does (trap 5).
			if !c.Has("dtm") || c.Get("dtm") != "" {
				t.Errorf("%s: dtm-dtm should be present and empty: %v", c.Route, c.Header["dtm-dtm"])
			}
			// docs/compatibility.md: dtmd sends plain application/grpc, DTM application/grpc+dtm_raw.
			eq(t, c.Route+" content-type", c.Meta("content-type"), "application/grpc")
		}
	})

	t.Run("rollback, compensation ongoing once", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.SetSticky("TransIn", busi.Failure)
		e.B.Script("TransOutRevert", busi.Ongoing)
		noErr(t, "submit", e.sagaGrpc(g).Submit())
		e.afterPass(g, 1, aborting)
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, succeed, succeed, failed))
		// DTM: "url:<url> return failed: " + the Aborted message with " FAILURE" appended once
		// (GrpcError2DtmError -> ErrorMessage2Error, protocol §1.4 and §5.2.1).
		eq(t, "rollback_reason", e.D.Global(g).RollbackReason, "url:"+e.B.GrpcURL("TransIn")+" return failed: scripted failure FAILURE")
		eq(t, "compensate body", string(e.B.Calls("TransInRevert", g)[0].Body), protoBytes(wrapperspb.String("in 30")))
	})

	t.Run("concurrent with order", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.sagaGrpc(g).
			Add(e.B.GrpcURL("Third"), e.B.GrpcURL("ThirdRevert"), wrapperspb.String("third")).
			EnableConcurrent().AddBranchOrder(2, []int{0, 1})
		// Steps 0 and 1 run together (TransOut waits for TransIn); step 2 waits for both.
		e.B.Handle("TransOut", func(r *busi.Request) error {
			if len(e.B.WaitCalls("TransIn", g, 1, 2*time.Second)) == 0 {
				return errors.New("TransIn was not called while TransOut was running")
			}
			return nil
		})
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		seq := e.B.Sequence(g)
		mustEq(t, "calls", len(seq), 3)
		eq(t, "last call", seq[2], "Third/03/action")
	})

	t.Run("action ongoing then cron", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.Script("TransIn", busi.Ongoing)
		noErr(t, "submit", e.sagaGrpc(g).Submit())
		e.afterPass(g, 1, submitted)
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), succeed)
	})

	t.Run("empty action url", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := dtmgrpc.NewSagaGrpc(e.D.GrpcServer(), g).
			Add("", e.B.GrpcURL("TransOutRevert"), wrapperspb.String("out")).
			Add(e.B.GrpcURL("TransIn"), e.B.GrpcURL("TransInRevert"), wrapperspb.String("in"))
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		eq(t, "calls", e.B.Sequence(g), []string{"TransIn/02/action"})
	})

	t.Run("http step in a grpc saga", func(t *testing.T) {
		// http:// URLs are called over HTTP in any transaction (protocol §4.1).
		e := newEnv(t)
		g := gid(t)
		s := dtmgrpc.NewSagaGrpc(e.D.GrpcServer(), g).
			Add(e.B.GrpcURL("TransOut"), e.B.GrpcURL("TransOutRevert"), wrapperspb.String("out")).
			Add(e.B.URL("HttpIn"), e.B.URL("HttpInRevert"), wrapperspb.String("in"))
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		in := e.B.Calls("HttpIn", g)
		mustEq(t, "http calls", len(in), 1)
		eq(t, "http call proto", in[0].Proto, "http")
		eq(t, "http call branch_id", in[0].Get("branch_id"), "02")
		eq(t, "http call body", string(in[0].Body), protoBytes(wrapperspb.String("in")))
	})

	t.Run("large payload and special gid", func(t *testing.T) {
		e := newEnv(t)
		g := "a+b c/d%e&f=g-" + gid(t)
		big := wrapperspb.String(strings.Repeat("0123456789abcdef", 64*1024)) // 1 MiB
		s := dtmgrpc.NewSagaGrpc(e.D.GrpcServer(), g).Add(e.B.GrpcURL("TransOut"), e.B.GrpcURL("TransOutRevert"), big)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		c := e.B.Calls("TransOut", g)
		mustEq(t, "calls", len(c), 1)
		eq(t, "dtm-gid", c[0].Get("gid"), g)
		if string(c[0].Body) != protoBytes(big) {
			t.Errorf("1 MiB payload changed on the way: %d bytes arrived", len(c[0].Body))
		}
	})

	t.Run("wait_result", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.sagaGrpc(g)
		s.WaitResult = true
		noErr(t, "submit", s.Submit())
		eq(t, "status right after submit", e.D.Status(g), succeed)
	})

	t.Run("wait_result rollback", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.sagaGrpc(g)
		s.WaitResult = true
		s.WithGlobalTransRequestTimeout(6)
		e.B.Handle("TransIn", func(r *busi.Request) error { return fmt.Errorf("account frozen: %w", dtmcli.ErrFailure) })
		err := s.Submit()
		eq(t, "submit error code", grpcCode(err), codes.Aborted)
		isErr(t, "submit", err, "account frozen")
		eq(t, "status", e.D.Status(g), failed)
	})

	t.Run("options round trip and call deadline", func(t *testing.T) {
		// Every DtmTransOptions field the SDK sends is stored (and shown by /query) and used:
		// request_timeout is the deadline of dtmd's branch calls.
		e := newEnv(t)
		g := gid(t)
		s := e.sagaGrpc(g, dtmgrpc.WithBranchHeaders(map[string]string{"h1": "v1"}))
		s.TimeoutToFail, s.RetryInterval = 1800, 120
		s.WithGlobalTransRequestTimeout(2)
		s.WithRetryLimit(5)
		var remaining atomic.Int64
		e.B.Handle("TransOut", func(r *busi.Request) error {
			if d, ok := r.Ctx.Deadline(); ok {
				remaining.Store(int64(time.Until(d)))
			}
			return nil
		})
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		glob := e.D.Global(g)
		eq(t, "timeout_to_fail", glob.TimeoutToFail, int64(1800))
		eq(t, "retry_interval", glob.RetryInterval, int64(120))
		eq(t, "request_timeout", glob.RequestTimeout, int64(2))
		eq(t, "retry_limit", glob.RetryLimit, int64(5))
		eq(t, "branch_headers", glob.BranchHeaders, map[string]string{"h1": "v1"})
		// (the grpc-timeout header is coarse: gRPC's C core rounds the timeout up a little)
		if r := time.Duration(remaining.Load()); r <= time.Second || r > 2100*time.Millisecond {
			t.Errorf("deadline of dtmd's branch call: %v left, want about 2 s", r)
		}
	})

	t.Run("branch headers on first call and cron retry", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		s := e.sagaGrpc(g, dtmgrpc.WithBranchHeaders(map[string]string{"test_header": "test"}))
		e.B.Script("TransIn", busi.Ongoing)
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, submitted)
		e.cron(15, g)
		eq(t, "status", e.D.Status(g), succeed)
		calls := e.B.Calls("", g)
		mustEq(t, "calls", len(calls), 3)
		for _, c := range calls {
			eq(t, c.String()+" test_header", c.Meta("test_header"), "test")
		}
	})

	t.Run("upper-case branch header", func(t *testing.T) {
		// docs/compatibility.md: dtmd lower-cases metadata keys from branch_headers (grpc-go in
		// DTM would fail the call on an upper-case key).
		e := newEnv(t)
		g := gid(t)
		s := e.sagaGrpc(g, dtmgrpc.WithBranchHeaders(map[string]string{"X-Request-Id": "r1"}))
		noErr(t, "submit", s.Submit())
		e.afterPass(g, 1, succeed)
		for _, c := range e.B.Calls("", g) {
			eq(t, c.String()+" x-request-id", c.Meta("x-request-id"), "r1")
		}
	})
}

func TestMsgGrpc(t *testing.T) {
	msg := func(e *env, g string) *dtmgrpc.MsgGrpc {
		return dtmgrpc.NewMsgGrpc(e.D.GrpcServer(), g).
			Add(e.B.GrpcURL("TransOut"), wrapperspb.Int64(30)).
			Add(e.B.GrpcURL("TransIn"), wrapperspb.Int64(30))
	}

	t.Run("prepare and submit", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		m := msg(e, g)
		noErr(t, "prepare", m.Prepare(e.B.GrpcURL("QueryPrepared")))
		eq(t, "status after prepare", e.D.Status(g), prepared)
		noErr(t, "submit", m.Submit())
		e.afterPass(g, 1, succeed)
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01/action", "TransIn/02/action"})
		eq(t, "body", string(e.B.Calls("TransIn", g)[0].Body), protoBytes(wrapperspb.Int64(30)))
		err := m.Prepare("")
		eq(t, "prepare after the end: code", grpcCode(err), codes.Aborted)
	})

	t.Run("back-check over grpc", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		noErr(t, "prepare", msg(e, g).Prepare(e.B.GrpcURL("QueryPrepared")))
		e.B.Script("QueryPrepared", busi.Ongoing)
		e.cron(60, g)
		eq(t, "status", e.D.Status(g), prepared)
		e.cron(80, g)
		eq(t, "status", e.D.Status(g), succeed)
		qp := e.B.Calls("QueryPrepared", g)
		mustEq(t, "back-checks", len(qp), 2)
		eq(t, "back-check proto", qp[0].Proto, "grpc")
		eq(t, "back-check branch_id", qp[0].Get("branch_id"), "00")
		eq(t, "back-check op", qp[0].Get("op"), "msg")
	})

	t.Run("delay", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		noErr(t, "submit", msg(e, g).SetDelay(10).Submit())
		e.afterPass(g, 1, submitted)
		eq(t, "custom_data", e.D.Global(g).CustomData, `{"delay":10}`)
		e.noCron(8)
		e.cron(12, g)
		eq(t, "status", e.D.Status(g), succeed)
	})

	t.Run("topic", func(t *testing.T) {
		e := newEnv(t)
		dc := dtmgimp.MustGetDtmClient(e.D.GrpcServer())
		ctx := context.Background()
		_, err := dc.Subscribe(ctx, &dtmgpb.DtmTopicRequest{Topic: "grpc_topic", URL: e.B.GrpcURL("TransOut"), Remark: "out"})
		noErr(t, "subscribe", err)
		_, err = dc.Subscribe(ctx, &dtmgpb.DtmTopicRequest{Topic: "grpc_topic", URL: e.B.GrpcURL("TransIn")})
		noErr(t, "subscribe", err)
		_, err = dc.Subscribe(ctx, &dtmgpb.DtmTopicRequest{Topic: "grpc_topic", URL: e.B.GrpcURL("TransIn")})
		if err == nil {
			t.Error("subscribing the same url twice: expected an error")
		}
		g := gid(t)
		noErr(t, "submit", dtmgrpc.NewMsgGrpc(e.D.GrpcServer(), g).AddTopic("grpc_topic", wrapperspb.String("t")).Submit())
		e.afterPass(g, 1, succeed)
		eq(t, "calls", e.B.Sequence(g), []string{"TransOut/01-01/action", "TransIn/01-02/action"})
		_, err = dc.Unsubscribe(ctx, &dtmgpb.DtmTopicRequest{Topic: "grpc_topic", URL: e.B.GrpcURL("TransOut")})
		noErr(t, "unsubscribe", err)
		_, err = dc.Unsubscribe(ctx, &dtmgpb.DtmTopicRequest{Topic: "grpc_topic", URL: e.B.GrpcURL("TransOut")})
		if err == nil {
			t.Error("unsubscribing twice: expected an error")
		}
		_, err = dc.DeleteTopic(ctx, &dtmgpb.DtmTopicRequest{Topic: "grpc_topic"})
		noErr(t, "delete topic", err)
		_, err = dc.DeleteTopic(ctx, &dtmgpb.DtmTopicRequest{Topic: "grpc_topic"})
		if err == nil {
			t.Error("deleting a missing topic: expected an error")
		}
		isErr(t, "submit to a deleted topic", dtmgrpc.NewMsgGrpc(e.D.GrpcServer(), gid(t)).AddTopic("grpc_topic", wrapperspb.String("t")).Submit(), "topic not found")
	})

	t.Run("DoAndSubmit", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := msg(e, g).DoAndSubmit(e.B.GrpcURL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error {
			eq(t, "barrier", [4]string{bb.TransType, bb.Gid, bb.BranchID, bb.Op}, [4]string{"msg", g, "00", "msg"})
			return nil
		})
		noErr(t, "DoAndSubmit", err)
		e.afterPass(g, 1, succeed)
	})

	t.Run("DoAndSubmit busi error, back-check failure", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.Script("QueryPrepared", busi.Failure)
		busiErr := errors.New("lost connection")
		err := msg(e, g).DoAndSubmit(e.B.GrpcURL("QueryPrepared"), func(bb *dtmcli.BranchBarrier) error { return busiErr })
		if !errors.Is(err, busiErr) {
			t.Fatalf("DoAndSubmit: got %v, want the busi error", err)
		}
		eq(t, "status", e.D.Status(g), failed)
		qp := e.B.Calls("QueryPrepared", g)
		mustEq(t, "back-checks by the SDK", len(qp), 1)
		eq(t, "SDK back-check dtm-dtm", qp[0].Get("dtm"), e.D.GrpcServer())
	})
}

func TestMsgGrpcDoAndSubmitDB(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *testDB) {
		setup := func(t *testing.T) (*env, string, string) {
			e := newEnv(t)
			g := gid(t)
			a := g + "-a"
			db.account(t, a, 100)
			e.B.Handle("QueryPrepared", func(r *busi.Request) error {
				bb, err := dtmgrpc.BarrierFromGrpc(r.Ctx)
				if err != nil {
					return err
				}
				return bb.QueryPrepared(db.DB)
			})
			return e, g, a
		}
		msg := func(e *env, g string) *dtmgrpc.MsgGrpc {
			return dtmgrpc.NewMsgGrpc(e.D.GrpcServer(), g).Add(e.B.GrpcURL("TransIn"), wrapperspb.Int64(30))
		}

		t.Run("success", func(t *testing.T) {
			e, g, a := setup(t)
			err := msg(e, g).DoAndSubmitDB(e.B.GrpcURL("QueryPrepared"), db.DB, func(tx *sql.Tx) error { return adjust(tx, db.Name, a, -30) })
			noErr(t, "DoAndSubmitDB", err)
			e.afterPass(g, 1, succeed)
			eq(t, "balance", db.balance(t, a), int64(70))
		})

		t.Run("busi error, rolled back", func(t *testing.T) {
			e, g, a := setup(t)
			err := msg(e, g).DoAndSubmitDB(e.B.GrpcURL("QueryPrepared"), db.DB, func(tx *sql.Tx) error {
				if err := adjust(tx, db.Name, a, -30); err != nil {
					return err
				}
				return errors.New("disk full")
			})
			isErr(t, "DoAndSubmitDB", err, "disk full")
			eq(t, "status", e.D.Status(g), failed)
			eq(t, "balance", db.balance(t, a), int64(100))
		})

		t.Run("committed, submit lost: back-check by the cron", func(t *testing.T) {
			e, g, a := setup(t)
			noErr(t, "prepare", msg(e, g).Prepare(e.B.GrpcURL("QueryPrepared")))
			bb, err := dtmcli.BarrierFrom("msg", g, "00", "msg")
			noErr(t, "barrier", err)
			noErr(t, "local transaction", bb.CallWithDB(db.DB, func(tx *sql.Tx) error { return adjust(tx, db.Name, a, -30) }))
			e.cron(60, g)
			eq(t, "status", e.D.Status(g), succeed)
			eq(t, "TransIn calls", len(e.B.Calls("TransIn", g)), 1)
		})
	})
}

func TestSagaGrpcBarrier(t *testing.T) {
	forEachDB(t, func(t *testing.T, db *testDB) {
		op := func(account string, sign int64) busi.Handler {
			return func(r *busi.Request) error {
				bb, err := dtmgrpc.BarrierFromGrpc(r.Ctx)
				if err != nil {
					return err
				}
				var amount wrapperspb.Int64Value
				if err := proto.Unmarshal(r.Body, &amount); err != nil {
					return err
				}
				return bb.CallWithDB(db.DB, func(tx *sql.Tx) error { return adjust(tx, db.Name, account, sign*amount.Value) })
			}
		}
		for _, tc := range []struct {
			name         string
			balanceA     int64 // 20: TransOut's debit of 30 is a business FAILURE
			want         string
			wantA, wantB int64
		}{
			{"normal", 100, succeed, 70, 130},
			{"rollback", 20, failed, 20, 100},
		} {
			t.Run(tc.name, func(t *testing.T) {
				e := newEnv(t)
				g := gid(t)
				a, b := g+"-a", g+"-b"
				db.account(t, a, tc.balanceA)
				db.account(t, b, 100)
				e.B.Handle("TransOut", op(a, -1))
				e.B.Handle("TransOutRevert", op(a, +1))
				e.B.Handle("TransIn", op(b, +1))
				e.B.Handle("TransInRevert", op(b, -1))
				s := dtmgrpc.NewSagaGrpc(e.D.GrpcServer(), g).
					Add(e.B.GrpcURL("TransOut"), e.B.GrpcURL("TransOutRevert"), wrapperspb.Int64(30)).
					Add(e.B.GrpcURL("TransIn"), e.B.GrpcURL("TransInRevert"), wrapperspb.Int64(30))
				noErr(t, "submit", s.Submit())
				e.afterPass(g, 1, tc.want)
				eq(t, "balances", []int64{db.balance(t, a), db.balance(t, b)}, []int64{tc.wantA, tc.wantB})
			})
		}
	})
}

// tccGrpcTransfer is the two-branch TCC over gRPC branches.
func (e *env) tccGrpcTransfer(tcc *dtmgrpc.TccGrpc) error {
	if err := tcc.CallBranch(wrapperspb.String("out"), e.B.GrpcURL("TransOutTry"), e.B.GrpcURL("TransOutConfirm"), e.B.GrpcURL("TransOutCancel"), &emptypb.Empty{}); err != nil {
		return err
	}
	return tcc.CallBranch(wrapperspb.String("in"), e.B.GrpcURL("TransInTry"), e.B.GrpcURL("TransInConfirm"), e.B.GrpcURL("TransInCancel"), &emptypb.Empty{})
}

func TestTccGrpc(t *testing.T) {
	t.Run("normal", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		noErr(t, "tcc", dtmgrpc.TccGlobalTransaction(e.D.GrpcServer(), g, e.tccGrpcTransfer))
		e.afterPass(g, 1, succeed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(prepared, succeed, prepared, succeed))
		eq(t, "calls", e.B.Sequence(g), []string{"TransOutTry/01/try", "TransInTry/02/try", "TransInConfirm/02/confirm", "TransOutConfirm/01/confirm"})
		eq(t, "try dtm-dtm (SDK)", e.B.Calls("TransOutTry", g)[0].Get("dtm"), e.D.GrpcServer())
		confirm := e.B.Calls("TransInConfirm", g)[0]
		eq(t, "confirm dtm-dtm (dtmd)", confirm.Get("dtm"), "")
		eq(t, "confirm body (registered BusiPayload)", string(confirm.Body), protoBytes(wrapperspb.String("in")))
	})

	t.Run("rollback", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.SetSticky("TransInTry", busi.Failure)
		err := dtmgrpc.TccGlobalTransaction(e.D.GrpcServer(), g, e.tccGrpcTransfer)
		eq(t, "error code", grpcCode(err), codes.Aborted)
		e.afterPass(g, 1, failed)
		eq(t, "branches", e.D.BranchStatuses(g), statuses(succeed, prepared, succeed, prepared))
		eq(t, "rollback_reason", e.D.Global(g).RollbackReason, "rpc error: code = Aborted desc = scripted failure")
		eq(t, "calls", e.B.Sequence(g), []string{"TransOutTry/01/try", "TransInTry/02/try", "TransInCancel/02/cancel", "TransOutCancel/01/cancel"})
	})

	t.Run("nested", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		e.B.Handle("TransInTry", func(r *busi.Request) error {
			tcc, err := dtmgrpc.TccFromGrpc(r.Ctx)
			if err != nil {
				return err
			}
			return tcc.CallBranch(wrapperspb.String("nested"), e.B.GrpcURL("NestedTry"), e.B.GrpcURL("NestedConfirm"), e.B.GrpcURL("NestedCancel"), &emptypb.Empty{})
		})
		noErr(t, "tcc", dtmgrpc.TccGlobalTransaction(e.D.GrpcServer(), g, e.tccGrpcTransfer))
		e.afterPass(g, 1, succeed)
		var ids []string
		for _, b := range e.D.Query(g).Branches {
			ids = append(ids, b.BranchID+"/"+b.Op+"/"+b.Status)
		}
		eq(t, "branches", ids, []string{
			"01/cancel/prepared", "01/confirm/succeed",
			"02/cancel/prepared", "02/confirm/succeed",
			"0201/cancel/prepared", "0201/confirm/succeed"})
	})

	t.Run("timeout", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := dtmgrpc.TccGlobalTransaction2(e.D.GrpcServer(), g, func(tcc *dtmgrpc.TccGrpc) { tcc.TimeoutToFail = 100 },
			func(tcc *dtmgrpc.TccGrpc) error {
				if err := tcc.CallBranch(wrapperspb.String("out"), e.B.GrpcURL("TransOutTry"), e.B.GrpcURL("TransOutConfirm"), e.B.GrpcURL("TransOutCancel"), &emptypb.Empty{}); err != nil {
					return err
				}
				e.cron(50, g) // due, not timed out (100 s): still prepared
				eq(t, "status at +50 s", e.D.Status(g), prepared)
				e.cron(150, g)
				return tcc.CallBranch(wrapperspb.String("in"), e.B.GrpcURL("TransInTry"), e.B.GrpcURL("TransInConfirm"), e.B.GrpcURL("TransInCancel"), &emptypb.Empty{})
			})
		eq(t, "error code of the late branch", grpcCode(err), codes.Aborted)
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "rollback_reason", e.D.Global(g).RollbackReason, "Timeout after 100 seconds")
		eq(t, "calls", e.B.Sequence(g), []string{"TransOutTry/01/try", "TransOutCancel/01/cancel"})
	})

	t.Run("headers with wait_result", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		err := dtmgrpc.TccGlobalTransaction2(e.D.GrpcServer(), g, func(tcc *dtmgrpc.TccGrpc) {
			tcc.WaitResult = true
			tcc.BranchHeaders = map[string]string{"test_header": "tcc"}
		}, e.tccGrpcTransfer)
		noErr(t, "tcc", err)
		eq(t, "status right after the submit", e.D.Status(g), succeed)
		calls := e.B.Calls("", g)
		mustEq(t, "calls", len(calls), 4)
		for _, c := range calls {
			eq(t, c.String()+" test_header", c.Meta("test_header"), "tcc")
		}
	})
}
