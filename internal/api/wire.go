package api

import (
	"errors"
	"fmt"
)

// Request and response bodies of the HTTP routes (see docs/api.md). They
// are shared with internal/client so both ends agree on every field.

// JobRequest is the body of the job routes (start, stop, restart, …).
type JobRequest struct {
	Names  []string `json:"names"`
	Mode   string   `json:"mode,omitempty"`
	NoWait bool     `json:"no_wait,omitempty"`
}

// KillRequest is the body of POST /v1/units/kill.
type KillRequest struct {
	Names  []string `json:"names"`
	Who    string   `json:"who,omitempty"` // main, control, all (default all)
	Signal int      `json:"signal"`
}

// NamesRequest is the body of routes that take only unit names.
type NamesRequest struct {
	Names []string `json:"names"`
}

// InstallRequest is the body of POST /v1/unit-files/{op}.
type InstallRequest struct {
	Names []string `json:"names"`
	InstallOptions
}

// ErrorResponse is the body of every error answer. Unit names the unit the
// error concerns when the Manager said so (see UnitError).
type ErrorResponse struct {
	Error string `json:"error"`
	Unit  string `json:"unit,omitempty"`
}

// Job routes: the last path element of POST /v1/units/{verb}.
const (
	JobStart           = "start"
	JobStop            = "stop"
	JobRestart         = "restart"
	JobTryRestart      = "try-restart"
	JobReload          = "reload"
	JobReloadOrRestart = "reload-or-restart"
)

// Install operations accepted by Manager.UnitFiles and POST /v1/unit-files/{op}.
const (
	OpEnable   = "enable"
	OpDisable  = "disable"
	OpReenable = "reenable"
	OpMask     = "mask"
	OpUnmask   = "unmask"
	OpPreset   = "preset"
)

// ErrAccessDenied is what a caller without the right to change state gets
// (HTTP 403); internal/client maps 403 answers back to it.
var ErrAccessDenied = errors.New("access denied")

// UnitError ties an error to the unit it concerns, so that a client can say
// "Unit x.service not found." for the right name when it asked for several.
// Managers return it (wrapping ErrNoSuchUnit, ErrRefused, …) where a unit
// name is known.
type UnitError struct {
	Unit string
	Err  error
}

func (e *UnitError) Error() string { return fmt.Sprintf("unit %s: %v", e.Unit, e.Err) }

// Unwrap returns the underlying error.
func (e *UnitError) Unwrap() error { return e.Err }

// NoSuchUnit returns the error a Manager gives for a unit it does not know.
func NoSuchUnit(name string) error { return &UnitError{Unit: name, Err: ErrNoSuchUnit} }
