package api_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/tendproject/tend/internal/api"
)

// FuzzRequest throws arbitrary methods, paths and bodies at the whole
// handler as root: nothing may panic (the recovery would answer 500) and
// every answer must be JSON with an expected status.
func FuzzRequest(f *testing.F) {
	seeds := []struct {
		m    uint8
		path string
		body string
	}{
		{1, "/v1/units/start", `{"names":["web.service"],"mode":"fail"}`},
		{1, "/v1/units/kill", `{"names":["web.service"],"who":"main","signal":9}`},
		{1, "/v1/unit-files/enable", `{"names":["db.service"],"runtime":true,"now":true}`},
		{1, "/v1/logs", `{"units":["web.*"],"lines":2}`},
		{1, "/v1/logs", `{"follow":true,"grep":"x"}`},
		{1, "/v1/units/reset-failed", `{}`},
		{1, "/v1/daemon-reload", ``},
		{0, "/v1/units?pattern=*&all=1", ``},
		{0, "/v1/units/web.service/dependencies?reverse=true", ``},
		{0, "/v1/unit-files/state?name=web.service", ``},
		{0, "/v1/processes", ``},
		{1, "/v1/units/start", `{"names":["a/b"]}`},
		{1, "/v1/units/start", `{"names":[null],"no_wait":"x"}`},
	}
	for _, s := range seeds {
		f.Add(s.m, s.path, []byte(s.body))
	}
	fake := testUnits()
	// Follows end at once instead of waiting for a client that never leaves.
	fake.Follow = make(chan api.LogEntry)
	close(fake.Follow)
	h := api.NewServer(fake, api.Options{}).Handler()
	methods := []string{"GET", "POST", "PUT", "DELETE"}
	f.Fuzz(func(t *testing.T, m uint8, path string, body []byte) {
		req, err := http.NewRequest(methods[int(m)%len(methods)], "http://tend"+path, bytes.NewReader(body))
		if err != nil || req.URL.Path == "" || req.URL.Path[0] != '/' {
			return
		}
		req = req.WithContext(api.WithPeer(req.Context(), api.Peer{UID: 0}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 301, 307, 308, 400, 404, 405, 409, 413:
		default:
			t.Fatalf("%s %q %q: status %d: %s", req.Method, path, body, rec.Code, rec.Body.Bytes())
		}
	})
}
