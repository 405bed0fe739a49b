package interop

import (
	"database/sql"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"lynx-dtm/interop/internal/busi"
)

// initGrpcWorkflow sets DTM's workflow SDK to gRPC: the client's own gRPC server carries the
// workflow callback service dtmd resumes through, and the returned connection to the business
// service records each call as a step (workflow.Interceptor).
func initGrpcWorkflow(t *testing.T, e *env) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	noErr(t, "listen", err)
	srv := grpc.NewServer()
	workflow.InitGrpc(e.D.GrpcServer(), lis.Addr().String(), srv)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	busiAddr := strings.Split(e.B.GrpcURL("TransOut"), "/")[0]
	conn, err := grpc.Dial(busiAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithUnaryInterceptor(workflow.Interceptor))
	noErr(t, "dial", err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Workflow (protocol §5.6, checklist §13.6) over HTTP with DTM's own workflow SDK
// (github.com/dtm-labs/client/workflow): dtmd stores the progress, and resumes an unfinished
// workflow by calling the client's callback, which replays the recorded steps. The SDK's setup is
// process-wide (InitHTTP), so these scenarios run one after the other.
func TestWorkflow(t *testing.T) {
	// setup starts a fresh world and registers a two-step transfer under a per-test name; the
	// callback route WorkflowResume hands dtmd's resume calls to the SDK.
	setup := func(t *testing.T, custom ...func(wf *workflow.Workflow)) (*env, string, string) {
		e := newEnv(t)
		g := gid(t)
		workflow.InitHTTP(e.D.Server(), e.B.URL("WorkflowResume"))
		e.B.Handle("WorkflowResume", func(r *busi.Request) error { return workflow.ExecuteByQS(r.Query, r.Body) })
		name := "interop_wf_" + g
		step := func(wf *workflow.Workflow, route, revert string) error {
			_, err := wf.NewBranch().OnRollback(func(bb *dtmcli.BranchBarrier) error {
				_, err := wf.NewRequest().SetBody(req{Amount: 30}).Post(e.B.URL(revert))
				return err
			}).NewRequest().SetBody(req{Amount: 30}).Post(e.B.URL(route))
			return err
		}
		noErr(t, "register", workflow.Register(name, func(wf *workflow.Workflow, data []byte) error {
			if err := step(wf, "TransOut", "TransOutRevert"); err != nil {
				return err
			}
			return step(wf, "TransIn", "TransInRevert")
		}, custom...))
		return e, g, name
	}

	t.Run("http normal", func(t *testing.T) {
		e, g, name := setup(t)
		noErr(t, "execute", workflow.Execute(name, g, []byte("input")))
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "steps", e.D.BranchStatuses(g), statuses(succeed, succeed))
		eq(t, "TransOut calls", len(e.B.Calls("TransOut", g)), 1)
		eq(t, "TransIn calls", len(e.B.Calls("TransIn", g)), 1)
		eq(t, "no compensation", len(e.B.Calls("TransOutRevert", g)), 0)
	})

	t.Run("http rollback", func(t *testing.T) {
		e, g, name := setup(t)
		e.B.Script("TransIn", busi.Failure)
		err := workflow.Execute(name, g, []byte("input"))
		if !errors.Is(err, dtmcli.ErrFailure) {
			t.Fatalf("execute: got %v, want ErrFailure", err)
		}
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "TransOut compensated", len(e.B.Calls("TransOutRevert", g)), 1)
		// The failed step's own rollback is not run (CompensateErrorBranch is false by default).
		eq(t, "TransIn not compensated", len(e.B.Calls("TransInRevert", g)), 0)
	})

	t.Run("resume after ERROR/ONGOING", func(t *testing.T) {
		e, g, name := setup(t)
		e.B.Script("TransIn", busi.Error, busi.Ongoing)
		if err := workflow.Execute(name, g, []byte("input")); err == nil {
			t.Fatal("execute with an erring step: expected an error")
		}
		eq(t, "status after the error", e.D.Status(g), prepared)
		e.cron(60, g) // dtmd calls the callback: TransIn answers ONGOING, still unfinished
		eq(t, "status after ONGOING", e.D.Status(g), prepared)
		e.cron(120, g) // replays TransOut from its record, runs TransIn, submits
		eq(t, "status", e.D.Status(g), succeed)
		eq(t, "TransOut ran once", len(e.B.Calls("TransOut", g)), 1)
		eq(t, "TransIn calls", len(e.B.Calls("TransIn", g)), 3)
		eq(t, "resume calls", len(e.B.Calls("WorkflowResume", g)), 2)
	})

	t.Run("tcc-style OnCommit/OnRollback", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		workflow.InitHTTP(e.D.Server(), e.B.URL("WorkflowResume"))
		name := "interop_wf_tcc_" + g
		try := func(wf *workflow.Workflow, route string) error {
			_, err := wf.NewBranch().OnCommit(func(bb *dtmcli.BranchBarrier) error {
				_, err := wf.NewRequest().SetBody(req{Amount: 30}).Post(e.B.URL(route + "Confirm"))
				return err
			}).OnRollback(func(bb *dtmcli.BranchBarrier) error {
				_, err := wf.NewRequest().SetBody(req{Amount: 30}).Post(e.B.URL(route + "Revert"))
				return err
			}).NewRequest().SetBody(req{Amount: 30}).Post(e.B.URL(route + "Try"))
			return err
		}
		noErr(t, "register", workflow.Register(name, func(wf *workflow.Workflow, data []byte) error {
			if err := try(wf, "TransOut"); err != nil {
				return err
			}
			return try(wf, "TransIn")
		}))
		noErr(t, "execute", workflow.Execute(name, g, nil))
		eq(t, "status", e.D.Status(g), succeed)
		in, out := e.B.Calls("TransInConfirm", g), e.B.Calls("TransOutConfirm", g)
		mustEq(t, "confirms", len(in)+len(out), 2)
		// Phase 2 runs in reverse registration order.
		if in[0].Seq > out[0].Seq {
			t.Fatalf("TransInConfirm (seq %d) ran after TransOutConfirm (seq %d)", in[0].Seq, out[0].Seq)
		}
		eq(t, "no rollback", len(e.B.Calls("TransOutRevert", g))+len(e.B.Calls("TransInRevert", g)), 0)
		eq(t, "recorded steps", e.D.BranchStatuses(g), statuses(succeed, succeed, succeed, succeed))
	})

	t.Run("grpc failure and rollback", func(t *testing.T) {
		e := newEnv(t)
		g := gid(t)
		conn := initGrpcWorkflow(t, e)
		call := func(wf *workflow.Workflow, method string) error {
			return conn.Invoke(wf.Context, "/busi.Busi/"+method, &emptypb.Empty{}, &emptypb.Empty{})
		}
		e.B.Script("TransIn", busi.Failure) // ABORTED
		name := "interop_wf_grpc_" + g
		noErr(t, "register", workflow.Register(name, func(wf *workflow.Workflow, data []byte) error {
			wf.NewBranch().OnRollback(func(bb *dtmcli.BranchBarrier) error { return call(wf, "TransOutRevert") })
			if err := call(wf, "TransOut"); err != nil {
				return err
			}
			wf.NewBranch().OnRollback(func(bb *dtmcli.BranchBarrier) error { return call(wf, "TransInRevert") })
			return call(wf, "TransIn")
		}))
		err := workflow.Execute(name, g, []byte("input"))
		if !errors.Is(err, dtmcli.ErrFailure) {
			t.Fatalf("execute: got %v, want ErrFailure", err)
		}
		eq(t, "status", e.D.Status(g), failed)
		eq(t, "TransOut compensated", len(e.B.Calls("TransOutRevert", g)), 1)
		eq(t, "TransIn not compensated", len(e.B.Calls("TransInRevert", g)), 0)
		eq(t, "protocol", e.D.Query(g).Transaction.Protocol, "grpc")
	})

	t.Run("CompensateErrorBranch", func(t *testing.T) {
		e, g, name := setup(t, func(wf *workflow.Workflow) { wf.Options.CompensateErrorBranch = true })
		e.B.Script("TransIn", busi.Failure)
		if err := workflow.Execute(name, g, []byte("input")); !errors.Is(err, dtmcli.ErrFailure) {
			t.Fatalf("execute: got %v, want ErrFailure", err)
		}
		eq(t, "status", e.D.Status(g), failed)
		// The failed step is compensated too, in reverse order: TransIn's before TransOut's.
		in, out := e.B.Calls("TransInRevert", g), e.B.Calls("TransOutRevert", g)
		mustEq(t, "compensations", len(in)+len(out), 2)
		if len(in) != 1 || in[0].Seq > out[0].Seq {
			t.Fatalf("TransInRevert %v must run once, before TransOutRevert %v", in, out)
		}
	})

	// DoXa: each branch's work is an XA local transaction on the business database, prepared as
	// the step and committed or rolled back by the workflow's phase 2.
	t.Run("DoXa", func(t *testing.T) {
		forEachDB(t, func(t *testing.T, db *testDB) {
			e := newEnv(t)
			workflow.InitHTTP(e.D.Server(), e.B.URL("WorkflowResume"))
			g := gid(t)
			name := "interop_wf_xa_" + g
			from, to := "wfxa-from-"+g, "wfxa-to-"+g
			db.account(t, from, 100)
			db.account(t, to, 0)
			xaStep := func(wf *workflow.Workflow, id string, amount int64) error {
				_, err := wf.NewBranch().DoXa(db.Conf, func(sdb *sql.DB) ([]byte, error) {
					return nil, adjust(sdb, db.Name, id, amount)
				})
				return err
			}
			noErr(t, "register", workflow.Register(name, func(wf *workflow.Workflow, data []byte) error {
				amount, _ := strconv.ParseInt(string(data), 10, 64)
				if err := xaStep(wf, from, -amount); err != nil {
					return err
				}
				return xaStep(wf, to, amount)
			}))
			noErr(t, "execute", workflow.Execute(name, g, []byte("30")))
			eq(t, "status", e.D.Status(g), succeed)
			eq(t, "from", db.balance(t, from), int64(70))
			eq(t, "to", db.balance(t, to), int64(30))
			// 500 is more than the 70 left: the first branch's prepared work is rolled back too.
			g2 := g + "-2"
			if err := workflow.Execute(name, g2, []byte("500")); !errors.Is(err, dtmcli.ErrFailure) {
				t.Fatalf("execute: got %v, want ErrFailure", err)
			}
			eq(t, "status", e.D.Status(g2), failed)
			eq(t, "from unchanged", db.balance(t, from), int64(70))
			eq(t, "to unchanged", db.balance(t, to), int64(30))
		})
	})

	// A gRPC workflow mixing a gRPC call, an HTTP call and a DoXa step (DTM's TestWorkflowMixed).
	t.Run("mixed grpc+http+DoXa", func(t *testing.T) {
		forEachDB(t, func(t *testing.T, db *testDB) {
			e := newEnv(t)
			g := gid(t)
			conn := initGrpcWorkflow(t, e)
			to := "wfmix-to-" + g
			db.account(t, to, 0)
			name := "interop_wf_mixed_" + g
			noErr(t, "register", workflow.Register(name, func(wf *workflow.Workflow, data []byte) error {
				wf.NewBranch().OnRollback(func(bb *dtmcli.BranchBarrier) error {
					return conn.Invoke(wf.Context, "/busi.Busi/TransOutRevert", &emptypb.Empty{}, &emptypb.Empty{})
				})
				if err := conn.Invoke(wf.Context, "/busi.Busi/TransOut", &emptypb.Empty{}, &emptypb.Empty{}); err != nil {
					return err
				}
				wf.NewBranch().OnRollback(func(bb *dtmcli.BranchBarrier) error {
					_, err := wf.NewRequest().SetBody(req{Amount: 30}).Post(e.B.URL("TransInRevert"))
					return err
				})
				if _, err := wf.NewRequest().SetBody(req{Amount: 30}).Post(e.B.URL("TransIn")); err != nil {
					return err
				}
				_, err := wf.NewBranch().DoXa(db.Conf, func(sdb *sql.DB) ([]byte, error) {
					return nil, adjust(sdb, db.Name, to, 30)
				})
				return err
			}))
			noErr(t, "execute", workflow.Execute(name, g, []byte("input")))
			eq(t, "status", e.D.Status(g), succeed)
			eq(t, "protocol", e.D.Query(g).Transaction.Protocol, "grpc")
			eq(t, "grpc step", len(e.B.Calls("TransOut", g)), 1)
			eq(t, "http step", len(e.B.Calls("TransIn", g)), 1)
			eq(t, "xa step", db.balance(t, to), int64(30))
		})
	})
}
