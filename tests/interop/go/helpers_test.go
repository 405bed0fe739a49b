package interop

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dtm-labs/logger"

	"lynx-dtm/interop/internal/busi"
	"lynx-dtm/interop/internal/dtmd"
)

// Statuses as dtmd reports them (dtm-protocol.md §1.1, §1.2).
const (
	prepared  = "prepared"
	submitted = "submitted"
	aborting  = "aborting"
	succeed   = "succeed"
	failed    = "failed"
)

type quietLogger struct{}

func (quietLogger) Debugf(string, ...interface{}) {}
func (quietLogger) Infof(string, ...interface{})  {}
func (quietLogger) Warnf(string, ...interface{})  {}
func (quietLogger) Errorf(string, ...interface{}) {}

func TestMain(m *testing.M) {
	// The SDK logs every branch call and every expected failure; INTEROP_SDK_LOG=debug shows it.
	if lvl := os.Getenv("INTEROP_SDK_LOG"); lvl != "" {
		logger.InitLog(lvl)
	} else {
		logger.WithLogger(quietLogger{})
	}
	sendTokensWhenRequired()
	if os.Getenv(wfChildEnv) != "" {
		runWorkflowChild() // the client process TestWorkflowClientKilled kills; never returns
	}
	os.Exit(m.Run())
}

// env is one test's world: a fresh dtmd and a fresh business service.
type env struct {
	t *testing.T
	D *dtmd.Dtmd
	B *busi.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// newEnvWith starts the business service first, so dtmd's options may name its URLs.
func newEnvWith(t *testing.T, opts func(b *busi.Server) dtmd.Options) *env {
	t.Helper()
	b, err := busi.Start()
	if err != nil {
		t.Fatalf("business service: %v", err)
	}
	t.Cleanup(b.Close)
	var o dtmd.Options
	if opts != nil {
		o = opts(b)
	}
	return &env{t: t, D: dtmd.Start(t, o), B: b}
}

// gid is a fresh gid named after the test (short enough for an XA id: gid-branch <= 64 bytes).
func gid(t *testing.T) string {
	name := t.Name()
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	name = strings.TrimPrefix(name, "Test")
	var sb strings.Builder
	for _, r := range name {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			sb.WriteRune(r)
		} else {
			sb.WriteRune('_')
		}
	}
	s := sb.String()
	if len(s) > 32 {
		s = s[:32]
	}
	const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	suffix := make([]byte, 8)
	for i := range suffix {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		suffix[i] = alphabet[n.Int64()]
	}
	return s + "-" + string(suffix)
}

// req is the business payload of the HTTP scenarios (DTM's busi uses the same shape).
type req struct {
	Amount int    `json:"amount"`
	Note   string `json:"note,omitempty"`
}

func mustJSON(v interface{}) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func eq(t *testing.T, what string, got, want interface{}) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %#v, want %#v", what, got, want)
	}
}

func mustEq(t *testing.T, what string, got, want interface{}) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %#v, want %#v", what, got, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: unexpected error: %v", what, err)
	}
}

func isErr(t *testing.T, what string, err error, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: expected an error containing %q, got nil", what, contains)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("%s: error %q does not contain %q", what, err.Error(), contains)
	}
}

func contains(t *testing.T, what, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%s: %q does not contain %q", what, s, sub)
	}
}

// statuses is shorthand for a list of branch statuses.
func statuses(s ...string) []string { return s }

// waitStatus polls the global status of gid until it is want (fails after 20 s).
func (e *env) waitStatus(gid, want string) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := e.D.Status(gid)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("gid %s: status %q, want %q (after 20 s)", gid, got, want)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

// afterPass waits for the first processing pass of gid (async submit) and checks the status.
func (e *env) afterPass(gid string, n int64, want string) {
	e.t.Helper()
	e.D.WaitPasses(gid, n)
	eq(e.t, "status of "+gid+fmt.Sprintf(" after %d passes", n), e.D.Status(gid), want)
}

// cron runs one cron pass forward seconds ahead and checks it processed gid.
func (e *env) cron(forward int64, gid string) {
	e.t.Helper()
	got := e.D.CronOnce(forward)
	if got != gid {
		e.t.Fatalf("cron pass at +%d s processed %q, want %q", forward, got, gid)
	}
}

// noCron runs one cron pass forward seconds ahead and checks nothing was due.
func (e *env) noCron(forward int64) {
	e.t.Helper()
	if got := e.D.CronOnce(forward); got != "" {
		e.t.Fatalf("cron pass at +%d s processed %q, want nothing due", forward, got)
	}
}
