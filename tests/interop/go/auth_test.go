package interop

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/dtm-labs/client/dtmcli"
	"github.com/dtm-labs/client/dtmgrpc"
	"github.com/dtm-labs/dtmdriver"
	"github.com/go-resty/resty/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"lynx-dtm/interop/internal/dtmd"
)

// sendTokensWhenRequired: with LYNX_INTEROP_AUTH=1 every dtmd of the run requires bearer tokens
// (docs/security.md), and the official SDK sends one through its public extension points, with
// no change to the SDK: dtmdriver.Middlewares.HTTP (run by every resty client of dtmcli) and
// dtmgrpc.AddUnaryInterceptor (installed on every gRPC connection of dtmgrpc). Only calls to DTM
// carry it — paths under /api/dtmsvr/, the JSON-RPC endpoint and methods of dtmgimp.Dtm — so
// branch services never
// receive the token. The topic methods (an operator's tooling) send the admin token.
func sendTokensWhenRequired() {
	if !dtmd.AuthEnabled() {
		return
	}
	dtmdriver.Middlewares.HTTP = append(dtmdriver.Middlewares.HTTP, func(c *resty.Client, r *resty.Request) error {
		if strings.Contains(r.URL, "/api/dtmsvr/") || strings.HasSuffix(r.URL, "/api/json-rpc") {
			r.SetHeader("Authorization", "Bearer "+dtmd.ClientToken)
		}
		return nil
	})
	dtmgrpc.AddUnaryInterceptor(func(ctx context.Context, method string, req, reply interface{}, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if strings.HasPrefix(method, "/dtmgimp.Dtm/") {
			token := dtmd.ClientToken
			// Topics are an operator's business: their methods need the admin role.
			if strings.HasSuffix(method, "/Subscribe") || strings.HasSuffix(method, "/Unsubscribe") ||
				strings.HasSuffix(method, "/DeleteTopic") {
				token = dtmd.AdminToken
			}
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	})
}

// With authentication on: a request without a token is refused, the SDK's own calls carry the
// client token (a whole saga runs), and the business service never sees a token. With it off
// (the first of scripts/interop-go.sh's two passes), DTM's default: no token needed.
func TestAuthTokens(t *testing.T) {
	e := newEnv(t)
	req, _ := http.NewRequest("GET", e.D.Server()+"/newGid", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := http.StatusOK
	if dtmd.AuthEnabled() {
		want = http.StatusUnauthorized
	}
	if resp.StatusCode != want {
		t.Fatalf("newGid without a token: %d, want %d", resp.StatusCode, want)
	}
	gid := dtmcli.MustGenGid(e.D.Server())
	saga := dtmcli.NewSaga(e.D.Server(), gid).Add(e.B.URL("TransOut"), e.B.URL("TransOutRevert"), map[string]int{"amount": 30})
	saga.WaitResult = true
	if err := saga.Submit(); err != nil {
		t.Fatalf("saga with the client token: %v", err)
	}
	calls := e.B.Calls("", gid)
	if len(calls) == 0 {
		t.Fatal("the business service saw no call")
	}
	for _, c := range calls {
		if c.Meta("Authorization") != "" {
			t.Fatalf("branch %s received an Authorization header", c.Route)
		}
	}
}
