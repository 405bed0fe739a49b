// Package busi is the business service of the interop tests: one HTTP server (routes
// /api/busi/<name>) and one gRPC server (methods /busi.Busi/<name>, served without generated
// code), both on 127.0.0.1 with a free port, started in-process by each test.
//
// Every call is recorded (route, method, query or metadata, headers, body) so tests can assert
// what dtmd (or the SDK) sent. The answer of a route is decided, in this order, by:
//  1. the next one-shot result queued with Script (SUCCESS, FAILURE, ONGOING, ERROR or a
//     pre-1.10 answer), for "<route>/<op>" first, then for "<route>";
//  2. the route's Handler, if one is set (business code: barriers, XA, nested TCC...);
//  3. the sticky result set with SetSticky ("<route>/<op>", then "<route>");
//  4. SUCCESS.
//
// Results map to the wire as DTM's business services answer: HTTP 200 {"dtm_result":"SUCCESS"},
// 409 FAILURE, 425 ONGOING, 500 ERROR; gRPC OK, Aborted, FailedPrecondition, Internal.
package busi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dtm-labs/client/dtmcli"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Result strings accepted by Script and SetSticky.
const (
	Success = "SUCCESS"
	Failure = "FAILURE"
	Ongoing = "ONGOING"
	Error   = "ERROR"
	// Answers of business services written for DTM before v1.10: HTTP 200 with
	// {"dtm_result":"FAILURE"} / {"dtm_result":"ONGOING"}; gRPC Aborted with the message
	// "FAILURE" / "ONGOING".
	OldFailure = "FAILURE_200"
	OldOngoing = "ONGOING_200"
)

// Call is one recorded request.
type Call struct {
	Seq    int
	Proto  string // "http" or "grpc"
	Route  string // the route / method name, e.g. "TransOut"
	Method string // HTTP method ("GET", "POST"); "POST" for gRPC
	Query  url.Values
	// HTTP headers (canonical names), or gRPC metadata (lower-case keys).
	Header map[string][]string
	Body   []byte
	Result string // SUCCESS, FAILURE, ONGOING or ERROR: what the service answered
	At     time.Time
}

// Get returns the first value of a query parameter (HTTP) or of the metadata key "dtm-"+k
// (gRPC), so tests read gid / trans_type / branch_id / op the same way for both.
func (c Call) Get(k string) string {
	if c.Proto == "grpc" {
		return c.Meta("dtm-" + k)
	}
	return c.Query.Get(k)
}

// Has reports whether the query parameter (HTTP) or metadata key "dtm-"+k (gRPC) is present.
func (c Call) Has(k string) bool {
	if c.Proto == "grpc" {
		_, ok := c.Header["dtm-"+k]
		return ok
	}
	_, ok := c.Query[k]
	return ok
}

// Meta returns the first value of a header / metadata key (case-insensitive for HTTP).
func (c Call) Meta(k string) string {
	if c.Proto == "http" {
		return http.Header(c.Header).Get(k)
	}
	if v := c.Header[strings.ToLower(k)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// String is "<route>/<branch_id>/<op>", the compact form tests compare sequences with.
func (c Call) String() string { return c.Route + "/" + c.Get("branch_id") + "/" + c.Get("op") }

// Request is what a Handler sees.
type Request struct {
	Call
	// Ctx carries the incoming gRPC metadata (dtmgrpc.BarrierFromGrpc, TccFromGrpc,
	// XaLocalTransaction read it); for HTTP it is the request's context.
	Ctx context.Context
}

// Handler is business code for a route: nil is SUCCESS, an error wrapping dtmcli.ErrFailure is
// FAILURE, one wrapping dtmcli.ErrOngoing is ONGOING, anything else is ERROR.
type Handler func(r *Request) error

// Server is the business service.
type Server struct {
	httpLn   net.Listener
	grpcLn   net.Listener
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	mu       sync.Mutex
	seq      int
	calls    []Call
	script   map[string][]string
	sticky   map[string]string
	handlers map[string]Handler
}

// Start listens on 127.0.0.1 (HTTP and gRPC, free ports) and serves until Close.
func Start() (*Server, error) {
	s := &Server{script: map[string][]string{}, sticky: map[string]string{}, handlers: map[string]Handler{}}
	var err error
	if s.httpLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	if s.grpcLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		s.httpLn.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/busi/json-rpc", s.serveJrpc)
	mux.HandleFunc("/api/busi/", s.serveHTTP)
	s.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.grpcSrv = grpc.NewServer(grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(s.serveGrpc))
	go func() { _ = s.httpSrv.Serve(s.httpLn) }()
	go func() { _ = s.grpcSrv.Serve(s.grpcLn) }()
	return s, nil
}

// Close stops both servers.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.httpSrv.Shutdown(ctx)
	s.grpcSrv.Stop()
}

// URL is the HTTP branch URL of a route: http://127.0.0.1:<port>/api/busi/<route>.
func (s *Server) URL(route string) string {
	return "http://" + s.httpLn.Addr().String() + "/api/busi/" + route
}

// GrpcURL is the gRPC branch URL of a route: 127.0.0.1:<port>/busi.Busi/<route>.
func (s *Server) GrpcURL(route string) string {
	return s.grpcLn.Addr().String() + "/busi.Busi/" + route
}

// Script queues one-shot results for a route (appended to what is queued). The route may be
// "<route>/<op>" (e.g. "TransOutXa/commit") to script only the calls with that op.
func (s *Server) Script(route string, results ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[route] = append(s.script[route], results...)
}

// SetSticky sets the result a route ("<route>" or "<route>/<op>") gives whenever nothing else
// decides ("" clears it).
func (s *Server) SetSticky(route, result string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if result == "" {
		delete(s.sticky, route)
	} else {
		s.sticky[route] = result
	}
}

// Handle sets the business code of a route (nil removes it).
func (s *Server) Handle(route string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h == nil {
		delete(s.handlers, route)
	} else {
		s.handlers[route] = h
	}
}

// Calls returns the recorded calls in arrival order; an empty route matches every route, an
// empty gid every gid.
func (s *Server) Calls(route, gid string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if (route == "" || c.Route == route) && (gid == "" || c.Get("gid") == gid) {
			out = append(out, c)
		}
	}
	return out
}

// WaitCalls waits until at least n calls of route (any gid when gid is "") are recorded and
// returns them, or returns what there is after timeout.
func (s *Server) WaitCalls(route, gid string, n int, timeout time.Duration) []Call {
	deadline := time.Now().Add(timeout)
	for {
		calls := s.Calls(route, gid)
		if len(calls) >= n || time.Now().After(deadline) {
			return calls
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Sequence is the gid's calls as "<route>/<branch_id>/<op>" in arrival order.
func (s *Server) Sequence(gid string) []string {
	var out []string
	for _, c := range s.Calls("", gid) {
		out = append(out, c.String())
	}
	return out
}

// decide picks the answer of one call; the handler (if it decides) runs outside the lock.
// Scripts and sticky results keyed "<route>/<op>" apply before those keyed "<route>".
func (s *Server) decide(c Call) (result string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := []string{c.Route + "/" + c.Get("op"), c.Route}
	for _, k := range keys {
		if q := s.script[k]; len(q) > 0 {
			s.script[k] = q[1:]
			return q[0], nil
		}
	}
	if h := s.handlers[c.Route]; h != nil {
		return "", h
	}
	for _, k := range keys {
		if r := s.sticky[k]; r != "" {
			return r, nil
		}
	}
	return Success, nil
}

// record appends a call on arrival (so nested calls keep their arrival order) and returns
// its index; the result is filled in when the answer is known.
func (s *Server) record(c Call) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	c.Seq = s.seq
	s.calls = append(s.calls, c)
	return len(s.calls) - 1
}

// run records a call, decides its answer and runs the handler if any.
func (s *Server) run(c Call, ctx context.Context) (string, error) {
	idx := s.record(c)
	result, h := s.decide(c)
	var err error
	if h != nil {
		err = h(&Request{Call: c, Ctx: ctx})
		switch {
		case err == nil:
			result = Success
		case errors.Is(err, dtmcli.ErrFailure):
			result = Failure
		case errors.Is(err, dtmcli.ErrOngoing):
			result = Ongoing
		default:
			result = Error
		}
	}
	s.mu.Lock()
	s.calls[idx].Result = result
	s.mu.Unlock()
	if err == nil && result != Success {
		// Lower case, so the message itself never reads as a result (no FAILURE/ONGOING
		// substring) and DTM's " FAILURE" / " ONGOING" suffix rules stay visible.
		err = fmt.Errorf("scripted %s", strings.ToLower(result))
	}
	return result, err
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := Call{
		Proto:  "http",
		Route:  strings.TrimPrefix(r.URL.Path, "/api/busi/"),
		Method: r.Method,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
		Body:   body,
		At:     time.Now(),
	}
	result, err := s.run(c, r.Context())
	w.Header().Set("Content-Type", "application/json")
	switch result {
	case Success:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"dtm_result":"SUCCESS"}`)
	case Failure:
		w.WriteHeader(http.StatusConflict)
		_, _ = fmt.Fprintf(w, `{"dtm_result":"FAILURE","message":%q}`, err.Error())
	case Ongoing:
		w.WriteHeader(http.StatusTooEarly)
		_, _ = fmt.Fprintf(w, `{"dtm_result":"ONGOING","message":%q}`, err.Error())
	case OldFailure:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"dtm_result":"FAILURE"}`)
	case OldOngoing:
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, `{"dtm_result":"ONGOING"}`)
	default:
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = fmt.Fprintf(w, `{"message":%q}`, err.Error())
	}
}

func (s *Server) serveGrpc(_ interface{}, stream grpc.ServerStream) error {
	full, _ := grpc.MethodFromServerStream(stream)
	var body []byte
	if err := stream.RecvMsg(&body); err != nil {
		return err
	}
	md, _ := metadata.FromIncomingContext(stream.Context())
	hdr := map[string][]string{}
	for k, v := range md {
		hdr[k] = append([]string(nil), v...)
	}
	route := full
	if i := strings.LastIndex(full, "/"); i >= 0 {
		route = full[i+1:]
	}
	c := Call{Proto: "grpc", Route: route, Method: "POST", Header: hdr, Body: body, At: time.Now()}
	result, err := s.run(c, stream.Context())
	switch result {
	case Success:
		return stream.SendMsg([]byte{})
	case Failure:
		return status.Error(codes.Aborted, err.Error())
	case Ongoing:
		return status.Error(codes.FailedPrecondition, err.Error())
	case OldFailure:
		return status.Error(codes.Aborted, "FAILURE")
	case OldOngoing:
		return status.Error(codes.Aborted, "ONGOING")
	default:
		return status.Error(codes.Internal, err.Error())
	}
}

// rawCodec passes message bytes through unchanged: requests arrive as []byte whatever their
// protobuf type, replies are sent as given (an empty message is valid for every reply type).
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch m := v.(type) {
	case []byte:
		return m, nil
	case *[]byte:
		return *m, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
