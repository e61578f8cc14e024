package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// httpError is an error the server answers with a given status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) error {
	return &httpError{http.StatusNotFound, fmt.Sprintf(format, args...)}
}

// decodeBody reads exactly one JSON object into v, refusing unknown fields
// and trailing data so that a typo in a field name is an error, not a
// silently ignored option.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body: unexpected data after the JSON object")
	}
	return nil
}

// decodeOptionalBody accepts an empty body or an empty JSON object.
func decodeOptionalBody(r *http.Request) error {
	var v struct{}
	err := decodeBody(r, &v)
	var he *httpError
	if errors.As(err, &he) && he.msg == emptyBody {
		return nil
	}
	return err
}

const emptyBody = "request body is empty; expected a JSON object"

func decodeError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return badRequest(emptyBody)
	case errors.As(err, &mbe):
		return &httpError{http.StatusRequestEntityTooLarge,
			fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
	}
	return badRequest("request body: %v", strings.TrimPrefix(err.Error(), "json: "))
}

// ValidName reports why name cannot be a unit name, or nil. Names travel
// in URL paths and become file names in the daemon, so path separators,
// ".." and control characters are refused outright.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("empty unit name")
	case len(name) > 255:
		return fmt.Errorf("unit name too long (%d bytes, at most 255)", len(name))
	case strings.Contains(name, "/"):
		return fmt.Errorf("invalid unit name %q: contains \"/\"", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("invalid unit name %q: contains \"..\"", name)
	}
	for _, c := range []byte(name) {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("invalid unit name %q: contains a control character", name)
		}
	}
	return nil
}

func checkNames(names []string, emptyOK bool) error {
	if len(names) == 0 && !emptyOK {
		return badRequest("no unit names given")
	}
	for _, n := range names {
		if err := ValidName(n); err != nil {
			return badRequest("%v", err)
		}
	}
	return nil
}

// checkPatterns applies the name rules to globs; the glob characters
// themselves are allowed.
func checkPatterns(pats []string) error {
	return checkNames(pats, true)
}

func checkMode(mode string) error {
	switch mode {
	case "", "replace", "fail", "isolate", "ignore-dependencies":
		return nil
	}
	return badRequest("invalid job mode %q (replace, fail, isolate, ignore-dependencies)", mode)
}

func checkLogQuery(q LogQuery) error {
	if err := checkPatterns(q.Units); err != nil {
		return err
	}
	switch {
	case q.Lines < 0:
		return badRequest("lines must not be negative, got %d", q.Lines)
	case q.PriorityMin < 0 || q.PriorityMin > 7 || q.PriorityMax < 0 || q.PriorityMax > 7:
		return badRequest("priorities must be within 0…7")
	}
	return nil
}

func pathName(r *http.Request) (string, error) {
	name := r.PathValue("name")
	if err := ValidName(name); err != nil {
		return "", badRequest("%v", err)
	}
	return name, nil
}

// errorAnswer maps an error to its status and body.
func errorAnswer(err error) (int, *ErrorResponse) {
	body := &ErrorResponse{Error: err.Error()}
	var ue *UnitError
	if errors.As(err, &ue) {
		body.Unit = ue.Unit
	}
	var he *httpError
	switch {
	case errors.As(err, &he):
		return he.status, body
	case errors.Is(err, ErrNoSuchUnit):
		return http.StatusNotFound, body
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest, body
	case errors.Is(err, ErrAccessDenied):
		return http.StatusForbidden, body
	case errors.Is(err, ErrRefused):
		return http.StatusConflict, body
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, body
	}
	return http.StatusInternalServerError, body
}

func writeJSON(w http.ResponseWriter, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	// A failed write means the client left; there is no one to tell.
	_, _ = w.Write(append(b, '\n'))
	return nil
}

func writeError(w http.ResponseWriter, status int, body *ErrorResponse) {
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
