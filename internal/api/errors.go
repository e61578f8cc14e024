package api

import "errors"

// Errors a Manager wraps so the API can answer with the right status.
var (
	ErrNoSuchUnit = errors.New("no such unit")
	ErrRefused    = errors.New("refused")
	ErrBadRequest = errors.New("bad request")
)
