package api

import (
	"context"
	"net/http"
	"time"
)

// JournalManager is the journal side of the Manager beyond reading
// entries: what `tend logs --list-boots`, `--disk-usage`, `--vacuum-*` and
// `-F` ask of the instance they are pointed at.
type JournalManager interface {
	// LogBoots lists the boots the journal holds entries of, oldest first.
	LogBoots(ctx context.Context) ([]LogBoot, error)
	// LogDiskUsage says how much the journal takes on disk.
	LogDiskUsage(ctx context.Context) (LogDiskUsage, error)
	// LogVacuum removes old sealed segments (a write: root or the
	// instance's owner).
	LogVacuum(ctx context.Context, req LogVacuumRequest) (LogVacuumResult, error)
	// LogFieldValues lists the distinct values of a journal field in the
	// entries the caller may read.
	LogFieldValues(ctx context.Context, field string) ([]string, error)
	// ReloadLogs reopens the files syslog.conf routes to (after logrotate
	// moved them) and returns those that still cannot be opened (a
	// write: root or the instance's owner).
	ReloadLogs(ctx context.Context) (ReloadLogsResult, error)
}

// ReloadLogsResult is the answer of POST /v1/logs/reload: the files
// reopened and an error for each that could not be.
type ReloadLogsResult struct {
	Files  []string `json:"files"`
	Errors []string `json:"errors,omitempty"`
}

func (s *Server) reloadLogs(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptionalBody(r); err != nil {
		return err
	}
	res, err := s.m.ReloadLogs(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

// LogBoot is one boot in the journal (GET /v1/logs/boots).
type LogBoot struct {
	ID    string    `json:"id"`
	First time.Time `json:"first"` // realtime of its first entry
	Last  time.Time `json:"last"`  // realtime of its last entry
}

// LogDiskUsage is the answer of GET /v1/logs/disk-usage.
type LogDiskUsage struct {
	Dir   string `json:"dir"`
	Bytes int64  `json:"bytes"`
}

// LogVacuumRequest is the body of POST /v1/logs/vacuum: remove sealed
// segments until the journal uses at most SizeBytes (0: no size target)
// and every segment older than AgeSeconds (0: no age target).
type LogVacuumRequest struct {
	SizeBytes  int64   `json:"size_bytes,omitempty"`
	AgeSeconds float64 `json:"age_seconds,omitempty"`
}

// Age is the request's age target.
func (r LogVacuumRequest) Age() time.Duration {
	return time.Duration(r.AgeSeconds * float64(time.Second))
}

// LogVacuumResult says what a vacuum freed.
type LogVacuumResult struct {
	Dir        string `json:"dir"`
	FreedBytes int64  `json:"freed_bytes"`
}

func (s *Server) logBoots(w http.ResponseWriter, r *http.Request) error {
	res, err := s.m.LogBoots(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, nonNil(res))
}

func (s *Server) logDiskUsage(w http.ResponseWriter, r *http.Request) error {
	res, err := s.m.LogDiskUsage(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (s *Server) logVacuum(w http.ResponseWriter, r *http.Request) error {
	var req LogVacuumRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.SizeBytes < 0 || req.AgeSeconds < 0 {
		return badRequest("vacuum size and age must not be negative")
	}
	if req.SizeBytes == 0 && req.AgeSeconds == 0 {
		return badRequest("vacuum needs a size or an age")
	}
	res, err := s.m.LogVacuum(r.Context(), req)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (s *Server) logFieldValues(w http.ResponseWriter, r *http.Request) error {
	field := r.PathValue("field")
	if !validFieldName(field) {
		return badRequest("invalid journal field name %q", field)
	}
	res, err := s.m.LogFieldValues(r.Context(), field)
	if err != nil {
		return err
	}
	return writeJSON(w, nonNil(res))
}

// validFieldName accepts journald field names: A-Z, 0-9 and _, not
// starting with a digit, at most 64 characters ("__" fields included,
// which hold values too).
func validFieldName(name string) bool {
	if name == "" || len(name) > 64 || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
