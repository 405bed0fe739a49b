package interop

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/workflow"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"lynx-dtm/interop/internal/busi"
)

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
		// The client's own gRPC server carries the workflow callback service.
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
		err = workflow.Execute(name, g, []byte("input"))
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

	for _, name := range []string{"mixed grpc+http+DoXa", "DoXa"} {
		t.Run(name, func(t *testing.T) {
			t.Skip("not run against dtmd yet: the DoXa scenarios are the next part of issue 15")
		})
	}
}
