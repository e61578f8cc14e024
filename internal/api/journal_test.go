package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/api/apitest"
	"github.com/tendproject/tend/internal/client"
)

func TestJournalRoutes(t *testing.T) {
	f := apitest.New()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f.Entries = []api.LogEntry{
		{BootID: "b1", Time: t0, Unit: "a.service", Identifier: "a", Message: "one"},
		{BootID: "b2", Time: t0.Add(time.Hour), Unit: "b.service", Identifier: "b", Message: "two"},
	}
	c := client.New(serve(t, f, api.Options{}, ""))
	defer c.Close()
	ctx := context.Background()
	boots, err := c.LogBoots(ctx)
	if err != nil || len(boots) != 2 || boots[0].ID != "b1" || !boots[1].First.Equal(t0.Add(time.Hour)) {
		t.Errorf("LogBoots = %+v, %v", boots, err)
	}
	if u, err := c.LogDiskUsage(ctx); err != nil || u.Bytes != 6 || u.Dir != "/fake/journal" {
		t.Errorf("LogDiskUsage = %+v, %v", u, err)
	}
	if v, err := c.LogFieldValues(ctx, "_SYSTEMD_UNIT"); err != nil || strings.Join(v, " ") != "a.service b.service" {
		t.Errorf("LogFieldValues = %q, %v", v, err)
	}
	if _, err := c.LogFieldValues(ctx, "bad-name"); err == nil {
		t.Error("a bad field name was accepted")
	}
	if _, err := c.LogVacuum(ctx, api.LogVacuumRequest{}); err == nil {
		t.Error("a vacuum without size or age was accepted")
	}
	res, err := c.LogVacuum(ctx, api.LogVacuumRequest{SizeBytes: 1})
	if err != nil || res.FreedBytes != 6 {
		t.Errorf("LogVacuum = %+v, %v", res, err)
	}
}

// TestJournalVacuumIsAWrite: reading the journal's boots and size is for
// anyone who can reach the socket; vacuuming is for root and the owner.
func TestJournalVacuumIsAWrite(t *testing.T) {
	f := apitest.New()
	h := api.NewServer(f, api.Options{Owner: 1000}).Handler()
	do := func(uid uint32, method, path, body string) int {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r = r.WithContext(api.WithPeer(r.Context(), api.Peer{UID: uid}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, uid := range []uint32{0, 1000, 65534} {
		for _, p := range []string{"/v1/logs/boots", "/v1/logs/disk-usage", "/v1/logs/fields/_PID"} {
			if code := do(uid, "GET", p, ""); code != http.StatusOK {
				t.Errorf("uid %d GET %s: %d; want 200", uid, p, code)
			}
		}
	}
	if code := do(65534, "POST", "/v1/logs/vacuum", `{"size_bytes":1}`); code != http.StatusForbidden {
		t.Errorf("nobody vacuums: %d; want 403", code)
	}
	if code := do(65534, "POST", "/v1/logs/reload", ``); code != http.StatusForbidden {
		t.Errorf("nobody reloads the log files: %d; want 403", code)
	}
	if len(f.Calls()) != 0 {
		t.Errorf("a refused vacuum reached the manager: %v", f.Calls())
	}
	for _, uid := range []uint32{0, 1000} {
		if code := do(uid, "POST", "/v1/logs/vacuum", `{"size_bytes":1}`); code != http.StatusOK {
			t.Errorf("uid %d vacuums: %d; want 200", uid, code)
		}
		if code := do(uid, "POST", "/v1/logs/reload", ``); code != http.StatusOK {
			t.Errorf("uid %d reloads the log files: %d; want 200", uid, code)
		}
	}
}
