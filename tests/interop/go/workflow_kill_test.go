package interop

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/dtm-labs/client/workflow"

	"lynx-dtm/interop/internal/busi"
)

// The client process of TestWorkflowClientKilled: this test binary run again with wfChildEnv set
// to "<dtm>|<callback>|<busi base URL>|<name>|<gid>". It executes the workflow and is killed
// while its second step is in flight.
const wfChildEnv = "LYNX_INTEROP_WF_CHILD"

// registerTransferWorkflow registers the two-step transfer of the kill test under name.
func registerTransferWorkflow(name, busiBase string) error {
	return workflow.Register(name, func(wf *workflow.Workflow, data []byte) error {
		for _, route := range []string{"TransOut", "TransIn"} {
			if _, err := wf.NewBranch().NewRequest().SetBody(req{Amount: 30}).Post(busiBase + route); err != nil {
				return err
			}
		}
		return nil
	})
}

func runWorkflowChild() {
	f := strings.Split(os.Getenv(wfChildEnv), "|")
	workflow.InitHTTP(f[0], f[1])
	if err := registerTransferWorkflow(f[3], f[2]); err != nil {
		os.Exit(2)
	}
	_ = workflow.Execute(f[3], f[4], []byte("input"))
	os.Exit(3) // not reached: the parent kills this process during TransIn
}

// A workflow whose client process is killed mid-way (after TransOut was recorded, while TransIn
// runs) is resumed by dtmd through the callback of another process running the same workflow
// code: TransOut is replayed from its record, TransIn runs again, and the workflow succeeds.
func TestWorkflowClientKilled(t *testing.T) {
	e := newEnv(t)
	g := gid(t)
	name := "interop_wf_killed_" + g
	busiBase := strings.TrimSuffix(e.B.URL("x"), "x")
	inFlight := make(chan struct{}, 1)
	release := make(chan struct{})
	first := true
	e.B.Handle("TransIn", func(r *busi.Request) error {
		if first {
			first = false
			inFlight <- struct{}{}
			<-release // the caller is gone by then; this reply goes nowhere
		}
		return nil
	})
	defer close(release)

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), wfChildEnv+"="+strings.Join(
		[]string{e.D.Server(), e.B.URL("WorkflowResume"), busiBase, name, g}, "|"))
	noErr(t, "start the client process", child.Start())
	select {
	case <-inFlight:
	case <-time.After(30 * time.Second):
		_ = child.Process.Kill()
		t.Fatal("the client process never called TransIn")
	}
	noErr(t, "kill the client process", child.Process.Kill())
	_ = child.Wait()
	eq(t, "status after the kill", e.D.Status(g), prepared)
	eq(t, "recorded steps", e.D.BranchStatuses(g), statuses(succeed))

	// This process takes over: same workflow code, the callback route hands dtmd's call to it.
	workflow.InitHTTP(e.D.Server(), e.B.URL("WorkflowResume"))
	noErr(t, "register", registerTransferWorkflow(name, busiBase))
	e.B.Handle("WorkflowResume", func(r *busi.Request) error { return workflow.ExecuteByQS(r.Query, r.Body) })
	e.cron(60, g)
	eq(t, "status", e.D.Status(g), succeed)
	eq(t, "TransOut ran once", len(e.B.Calls("TransOut", g)), 1)
	eq(t, "TransIn ran again after the kill", len(e.B.Calls("TransIn", g)), 2)
	eq(t, "steps", e.D.BranchStatuses(g), statuses(succeed, succeed))
}
