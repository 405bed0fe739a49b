package busi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"time"
)

// JrpcURL is the JSON-RPC branch URL of a route: http://127.0.0.1:<port>/api/busi/json-rpc?method=<route>.
// dtmd posts {"jsonrpc":"2.0","method":<route>,"id":..,"params":<payload + gid, trans_type,
// branch_id, op>} to it (dtm-protocol.md §4.3).
func (s *Server) JrpcURL(route string) string {
	return "http://" + s.httpLn.Addr().String() + "/api/busi/json-rpc?method=" + route
}

// serveJrpc records a JSON-RPC call as Proto "jrpc" with the route from `method`, the dtm
// parameters from `params` (as Query) and `params` as Body, and answers with HTTP 200 and a
// JSON-RPC body: SUCCESS -> result; FAILURE -> error -32901, ONGOING -> -32902, anything else
// -32603.
func (s *Server) serveJrpc(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var req struct {
		Method string                 `json:"method"`
		ID     interface{}            `json:"id"`
		Params map[string]interface{} `json:"params"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		http.Error(w, "not JSON-RPC", http.StatusBadRequest)
		return
	}
	q := url.Values{}
	for _, k := range []string{"gid", "trans_type", "branch_id", "op"} {
		if v, ok := req.Params[k].(string); ok {
			q.Set(k, v)
		}
	}
	body, _ := json.Marshal(req.Params)
	c := Call{Proto: "jrpc", Route: req.Method, Method: r.Method, Query: q, Header: r.Header.Clone(), Body: body, At: time.Now()}
	result, err := s.run(c, r.Context())
	out := map[string]interface{}{"jsonrpc": "2.0", "id": req.ID, "error": nil, "result": nil}
	errorOf := func(code int) map[string]interface{} {
		return map[string]interface{}{"code": code, "message": err.Error()}
	}
	switch result {
	case Success:
		out["result"] = map[string]string{"dtm_result": "SUCCESS"}
	case Failure:
		out["error"] = errorOf(-32901)
	case Ongoing:
		out["error"] = errorOf(-32902)
	default:
		out["error"] = errorOf(-32603)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}
