package client

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tendproject/tend/internal/api"
	"github.com/tendproject/tend/internal/rundir"
)

func TestDefaultSocket(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		user bool
		env  map[string]string
		want string
	}{
		{false, map[string]string{"XDG_RUNTIME_DIR": "/run/user/5"}, "/run/tend/tend.sock"},
		{true, map[string]string{"XDG_RUNTIME_DIR": "/run/user/5"}, "/run/user/5/tend/tend.sock"},
		{true, map[string]string{"TMPDIR": "/nowhere"}, rundir.User(func(k string) string { return map[string]string{"TMPDIR": "/nowhere"}[k] }, os.Getuid()) + "/tend/tend.sock"},
		{false, map[string]string{"TEND_SOCKET": "/x.sock"}, "/x.sock"},
		{true, map[string]string{"TEND_SOCKET": "/x.sock", "XDG_RUNTIME_DIR": "/run/user/5"}, "/x.sock"},
	}
	for _, tt := range tests {
		if got := DefaultSocket(tt.user, env(tt.env)); got != tt.want {
			t.Errorf("DefaultSocket(%v, %v) = %q; want %q", tt.user, tt.env, got, tt.want)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		status int
		body   string
		msg    string
		unit   string
		is     error
	}{
		{404, `{"error":"unit x.service: no such unit","unit":"x.service"}`, "unit x.service: no such unit", "x.service", api.ErrNoSuchUnit},
		{403, `{"error":"Access denied: …"}`, "Access denied: …", "", api.ErrAccessDenied},
		{409, `{"error":"refused"}`, "refused", "", api.ErrRefused},
		{400, `{"error":"bad"}`, "bad", "", api.ErrBadRequest},
		{405, "Method Not Allowed\n", "Method Not Allowed", "", nil},
		{500, "", "500 Internal Server Error", "", nil},
	}
	for _, tt := range tests {
		resp := &http.Response{StatusCode: tt.status, Status: strconv.Itoa(tt.status) + " " + http.StatusText(tt.status),
			Body: io.NopCloser(strings.NewReader(tt.body))}
		err := readError(resp)
		var ce *Error
		if !errors.As(err, &ce) || ce.Status != tt.status || ce.Message != tt.msg || ce.Unit != tt.unit {
			t.Errorf("readError(%d, %q) = %#v; want message %q, unit %q", tt.status, tt.body, err, tt.msg, tt.unit)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("readError(%d) = %v; want it to match %v", tt.status, err, tt.is)
		}
	}
}
