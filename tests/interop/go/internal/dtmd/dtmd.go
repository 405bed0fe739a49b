// Package dtmd runs the dtmd binary under test (one process per test, ports chosen by the
// kernel, its own data directory) and reads its state through the HTTP API and the test-only
// control routes (--enable-test-control: cronOnce, passes, shiftTime).
package dtmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Options of one dtmd process.
type Options struct {
	// ExtraYAML is appended to the generated config file (DTM's keys).
	ExtraYAML string
}

// Dtmd is a running dtmd.
type Dtmd struct {
	t        testing.TB
	cmd      *exec.Cmd
	dir      string
	HTTPPort int
	GrpcPort int
	done     chan struct{}
}

// Binary is the dtmd under test: $LYNX_DTMD_PATH, else the default build directory of the
// repository (tests/interop/go -> ../../../build).
func Binary() string {
	if p := os.Getenv("LYNX_DTMD_PATH"); p != "" {
		return p
	}
	p, _ := filepath.Abs("../../../build/apps/dtmd/dtmd")
	return p
}

var client = &http.Client{Timeout: 60 * time.Second}

// Tokens of the suite's dtmd when LYNX_INTEROP_AUTH=1 (docs/security.md): the SDK calls as
// client, the test's own requests (queries, test control) as admin.
const (
	ClientToken = "interop-client-token-0123456789"
	AdminToken  = "interop-admin-token-0123456789"
)

// AuthEnabled reports whether every dtmd of this run requires bearer tokens.
func AuthEnabled() bool { return os.Getenv("LYNX_INTEROP_AUTH") == "1" }

// Authorize adds the admin token to a request to dtmd when authentication is on.
func Authorize(req *http.Request) {
	if AuthEnabled() {
		req.Header.Set("Authorization", "Bearer "+AdminToken)
	}
}

// Start launches dtmd with test control on and the background cron off; the process is stopped
// when the test ends (its log is printed if the test failed).
func Start(t testing.TB, opts Options) *Dtmd {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("dtmd binary not found (%v); build it or set LYNX_DTMD_PATH", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dtmd.yml")
	yaml := "ListenAddress: 127.0.0.1\n" + opts.ExtraYAML
	if AuthEnabled() {
		tokens := filepath.Join(dir, "tokens")
		lines := "interop-client client " + ClientToken + "\ninterop-admin admin " + AdminToken + "\n"
		if err := os.WriteFile(tokens, []byte(lines), 0o600); err != nil {
			t.Fatal(err)
		}
		yaml += "Auth:\n  Enabled: true\n  TokensFile: " + tokens + "\n"
	}
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	portFile := filepath.Join(dir, "dtmd.port")
	logPath := filepath.Join(dir, "dtmd.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", cfg, "--http-port", "0", "--grpc-port", "0", "--port-file", portFile,
		"--data-dir", filepath.Join(dir, "data"), "--enable-test-control", "--disable-cron")
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting %s: %v", bin, err)
	}
	d := &Dtmd{t: t, cmd: cmd, dir: dir, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop()
		if t.Failed() {
			t.Logf("dtmd log (%s):\n%s", logPath, tail(logPath, 60))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, _ := os.ReadFile(portFile)
		lines := strings.Fields(string(b))
		if len(lines) >= 2 && strings.HasSuffix(string(b), "\n") {
			fmt.Sscan(lines[0], &d.HTTPPort)
			fmt.Sscan(lines[1], &d.GrpcPort)
			if d.HTTPPort > 0 && d.GrpcPort > 0 {
				break
			}
		}
		select {
		case <-d.done:
			t.Fatalf("dtmd exited during start-up:\n%s", tail(logPath, 40))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dtmd did not write %s within 20 s:\n%s", portFile, tail(logPath, 40))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return d
}

func (d *Dtmd) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Server is the HTTP DTM server address a Go client uses: http://127.0.0.1:<port>/api/dtmsvr.
func (d *Dtmd) Server() string { return fmt.Sprintf("http://127.0.0.1:%d/api/dtmsvr", d.HTTPPort) }

// GrpcServer is the gRPC DTM server address: 127.0.0.1:<grpc port>.
func (d *Dtmd) GrpcServer() string { return fmt.Sprintf("127.0.0.1:%d", d.GrpcPort) }

// Reply is an HTTP answer.
type Reply struct {
	Status int
	Body   []byte
}

// JSON decodes the body into v (a failed decode fails the test).
func (r Reply) JSON(t testing.TB, v interface{}) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("bad JSON reply (%d): %v: %s", r.Status, err, r.Body)
	}
}

func (d *Dtmd) do(method, path string, params url.Values, body []byte) Reply {
	d.t.Helper()
	u := fmt.Sprintf("http://127.0.0.1:%d%s", d.HTTPPort, path)
	if len(params) > 0 {
		u += "?" + params.Encode()
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		d.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	Authorize(req)
	resp, err := client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return Reply{Status: resp.StatusCode, Body: b}
}

// Get calls GET /api/dtmsvr/<api>.
func (d *Dtmd) Get(api string, params url.Values) Reply {
	d.t.Helper()
	return d.do("GET", "/api/dtmsvr/"+api, params, nil)
}

// Post calls POST /api/dtmsvr/<api> with a JSON body.
func (d *Dtmd) Post(api string, body interface{}) Reply {
	d.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		d.t.Fatal(err)
	}
	return d.do("POST", "/api/dtmsvr/"+api, nil, b)
}

// Raw calls any path of dtmd's HTTP port.
func (d *Dtmd) Raw(method, path string, params url.Values, body []byte) Reply {
	d.t.Helper()
	return d.do(method, path, params, body)
}

// Global is the transaction record of /query (the fields the tests read).
type Global struct {
	Gid              string            `json:"gid"`
	TransType        string            `json:"trans_type"`
	Status           string            `json:"status"`
	Protocol         string            `json:"protocol"`
	QueryPrepared    string            `json:"query_prepared"`
	RollbackReason   string            `json:"rollback_reason"`
	Options          string            `json:"options"`
	CustomData       string            `json:"custom_data"`
	NextCronInterval int64             `json:"next_cron_interval"`
	NextCronTime     string            `json:"next_cron_time"`
	CreateTime       string            `json:"create_time"`
	FinishTime       string            `json:"finish_time"`
	RollbackTime     string            `json:"rollback_time"`
	WaitResult       bool              `json:"wait_result"`
	TimeoutToFail    int64             `json:"timeout_to_fail"`
	RequestTimeout   int64             `json:"request_timeout"`
	RetryInterval    int64             `json:"retry_interval"`
	RetryLimit       int64             `json:"retry_limit"`
	BranchHeaders    map[string]string `json:"branch_headers"`
	Concurrent       bool              `json:"concurrent"`
}

// Branch is one branch row of /query.
type Branch struct {
	Gid      string `json:"gid"`
	URL      string `json:"url"`
	BinData  []byte `json:"bin_data"` // base64 on the wire
	BranchID string `json:"branch_id"`
	Op       string `json:"op"`
	Status   string `json:"status"`
}

// QueryReply is the answer of GET /query.
type QueryReply struct {
	Transaction *Global  `json:"transaction"`
	Branches    []Branch `json:"branches"`
}

// Query is GET /query?gid= (must answer 200).
func (d *Dtmd) Query(gid string) QueryReply {
	d.t.Helper()
	r := d.Get("query", url.Values{"gid": {gid}})
	if r.Status != 200 {
		d.t.Fatalf("query %s: %d %s", gid, r.Status, r.Body)
	}
	var q QueryReply
	r.JSON(d.t, &q)
	return q
}

// Status is the global status of gid ("" when unknown).
func (d *Dtmd) Status(gid string) string {
	d.t.Helper()
	q := d.Query(gid)
	if q.Transaction == nil {
		return ""
	}
	return q.Transaction.Status
}

// Global is the transaction record of gid (fails the test when unknown).
func (d *Dtmd) Global(gid string) Global {
	d.t.Helper()
	q := d.Query(gid)
	if q.Transaction == nil {
		d.t.Fatalf("transaction %s not found", gid)
	}
	return *q.Transaction
}

// BranchStatuses is the status of every branch of gid, in storage order.
func (d *Dtmd) BranchStatuses(gid string) []string {
	d.t.Helper()
	out := []string{}
	for _, b := range d.Query(gid).Branches {
		out = append(out, b.Status)
	}
	return out
}

// CronOnce runs one cron pass with the clock forward seconds ahead; returns the gid processed.
func (d *Dtmd) CronOnce(forward int64) string {
	d.t.Helper()
	r := d.do("POST", "/api/test/cronOnce", url.Values{"forward": {fmt.Sprint(forward)}}, nil)
	if r.Status != 200 {
		d.t.Fatalf("cronOnce: %d %s", r.Status, r.Body)
	}
	var v struct {
		Gid string `json:"gid"`
	}
	r.JSON(d.t, &v)
	return v.Gid
}

// ShiftTime moves dtmd's clock forward (negative: back) for good.
func (d *Dtmd) ShiftTime(seconds int64) {
	d.t.Helper()
	r := d.do("POST", "/api/test/shiftTime", url.Values{"seconds": {fmt.Sprint(seconds)}}, nil)
	if r.Status != 200 {
		d.t.Fatalf("shiftTime: %d %s", r.Status, r.Body)
	}
}

// Passes is the number of completed processing passes of gid.
func (d *Dtmd) Passes(gid string) int64 {
	d.t.Helper()
	r := d.do("GET", "/api/test/passes", url.Values{"gid": {gid}}, nil)
	if r.Status != 200 {
		d.t.Fatalf("passes: %d %s", r.Status, r.Body)
	}
	var v struct {
		Passes int64 `json:"passes"`
	}
	r.JSON(d.t, &v)
	return v.Passes
}

// WaitPasses waits until gid has at least n completed processing passes (fails after 20 s).
func (d *Dtmd) WaitPasses(gid string, n int64) {
	d.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for d.Passes(gid) < n {
		if time.Now().After(deadline) {
			d.t.Fatalf("gid %s: fewer than %d processing passes after 20 s (status %q)", gid, n, d.Status(gid))
		}
		time.Sleep(3 * time.Millisecond)
	}
}
