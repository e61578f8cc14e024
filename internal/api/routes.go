package api

import (
	"context"
	"io"
	"maps"
	"net/http"
	"strconv"
	"time"
)

// route is one entry of the route table. write marks routes that change
// state: only root and the instance's owner may call them.
type route struct {
	method  string
	pattern string
	write   bool
	h       func(w http.ResponseWriter, r *http.Request) error
}

// jobFunc is the shape of every Manager job method.
type jobFunc func(ctx context.Context, names []string, opts JobOptions) ([]JobResult, error)

// routeTable is the whole API; docs/api.md describes it for people.
func (s *Server) routeTable() []route {
	m := s.m
	jobs := []struct {
		verb string
		f    jobFunc
	}{
		{JobStart, m.Start}, {JobStop, m.Stop}, {JobRestart, m.Restart},
		{JobTryRestart, m.TryRestart}, {JobReload, m.Reload},
		{JobReloadOrRestart, m.ReloadOrRestart},
	}
	var rt []route
	for _, j := range jobs {
		rt = append(rt, route{"POST", "/v1/units/" + j.verb, true, s.job(j.f)})
	}
	if s.opts.DebugPanic != nil {
		rt = append(rt, route{"POST", "/v1/debug/panic", true, s.debugPanic})
	}
	return append(rt,
		route{"POST", "/v1/units/kill", true, s.kill},
		route{"POST", "/v1/units/reset-failed", true, s.resetFailed},
		route{"GET", "/v1/units", false, s.listUnits},
		route{"GET", "/v1/units/{name}", false, s.status},
		route{"GET", "/v1/units/{name}/properties", false, s.show},
		route{"GET", "/v1/units/{name}/files", false, s.cat},
		route{"GET", "/v1/units/{name}/dependencies", false, s.dependencies},
		route{"POST", "/v1/daemon-reload", true, s.daemonReload},
		route{"POST", "/v1/daemon-reexec", true, s.daemonReexec},
		route{"GET", "/v1/unit-files", false, s.listUnitFiles},
		route{"GET", "/v1/unit-files/state", false, s.isEnabled},
		route{"POST", "/v1/unit-files/{op}", true, s.unitFiles},
		// Logs are a read; the query is a JSON body, hence POST.
		route{"POST", "/v1/logs", false, s.logs},
		route{"GET", "/v1/logs/boots", false, s.logBoots},
		route{"GET", "/v1/logs/disk-usage", false, s.logDiskUsage},
		route{"POST", "/v1/logs/vacuum", true, s.logVacuum},
		route{"POST", "/v1/logs/reload", true, s.reloadLogs},
		route{"GET", "/v1/logs/fields/{field}", false, s.logFieldValues},
		route{"GET", "/v1/processes", false, s.processes},
		route{"GET", "/v1/self/fds", false, s.selfFDs},
		route{"GET", "/v1/manager", false, s.info},
	)
}

func (s *Server) job(f jobFunc) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req JobRequest
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		if err := checkNames(req.Names, false); err != nil {
			return err
		}
		if err := checkMode(req.Mode); err != nil {
			return err
		}
		res, err := f(r.Context(), req.Names, JobOptions{Mode: req.Mode, NoWait: req.NoWait})
		if err != nil {
			return err
		}
		return writeJSON(w, nonNil(res))
	}
}

func (s *Server) kill(w http.ResponseWriter, r *http.Request) error {
	var req KillRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := checkNames(req.Names, false); err != nil {
		return err
	}
	switch req.Who {
	case "":
		req.Who = "all"
	case "main", "control", "all":
	default:
		return badRequest("kill-whom must be main, control or all, not %q", req.Who)
	}
	if req.Signal < 1 || req.Signal > 64 {
		return badRequest("signal %d out of range 1…64", req.Signal)
	}
	if err := s.m.Kill(r.Context(), req.Names, req.Who, req.Signal); err != nil {
		return err
	}
	return writeJSON(w, struct{}{})
}

func (s *Server) resetFailed(w http.ResponseWriter, r *http.Request) error {
	var req NamesRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	// No names means every failed unit, as with systemctl.
	if err := checkNames(req.Names, true); err != nil {
		return err
	}
	if err := s.m.ResetFailed(r.Context(), req.Names); err != nil {
		return err
	}
	return writeJSON(w, struct{}{})
}

func (s *Server) listUnits(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	all, err := boolParam(q.Get("all"), "all")
	if err != nil {
		return err
	}
	pats := q["pattern"]
	if err := checkPatterns(pats); err != nil {
		return err
	}
	res, err := s.m.ListUnits(r.Context(), pats, all)
	if err != nil {
		return err
	}
	return writeJSON(w, nonNil(res))
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	res, err := s.m.Status(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (s *Server) show(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	res, err := s.m.Show(r.Context(), name)
	if err != nil {
		return err
	}
	if res == nil {
		res = map[string]string{}
	}
	redactProperties(AccessFromContext(r.Context()), res)
	return writeJSON(w, res)
}

func (s *Server) cat(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	if err := s.checkSecrets(r.Context(), "unit files"); err != nil {
		return err
	}
	res, err := s.m.Cat(r.Context(), name)
	if err != nil {
		return err
	}
	return writeJSON(w, nonNil(res))
}

func (s *Server) dependencies(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var dq DepQuery
	switch dq.Kind = q.Get("kind"); dq.Kind {
	case DepRequires, DepReverse, DepAfter, DepBefore:
	default:
		return badRequest("kind must be reverse, after or before, not %q", dq.Kind)
	}
	if dq.All, err = boolParam(q.Get("all"), "all"); err != nil {
		return err
	}
	// reverse=true is the older spelling of kind=reverse.
	reverse, err := boolParam(q.Get("reverse"), "reverse")
	if err != nil {
		return err
	}
	if reverse && dq.Kind == DepRequires {
		dq.Kind = DepReverse
	}
	res, err := s.m.ListDependencies(r.Context(), name, dq)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (s *Server) daemonReload(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptionalBody(r); err != nil {
		return err
	}
	res, err := s.m.DaemonReload(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (s *Server) daemonReexec(w http.ResponseWriter, r *http.Request) error {
	if err := decodeOptionalBody(r); err != nil {
		return err
	}
	if err := s.m.DaemonReexec(r.Context()); err != nil {
		return err
	}
	// The next request must reach the new process: not this connection.
	w.Header().Set("Connection", "close")
	return writeJSON(w, struct{}{})
}

func (s *Server) debugPanic(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Where string `json:"where"`
	}
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := s.opts.DebugPanic(r.Context(), req.Where); err != nil {
		return err
	}
	return writeJSON(w, struct{}{})
}

func (s *Server) listUnitFiles(w http.ResponseWriter, r *http.Request) error {
	pats := r.URL.Query()["pattern"]
	if err := checkPatterns(pats); err != nil {
		return err
	}
	res, err := s.m.ListUnitFiles(r.Context(), pats)
	if err != nil {
		return err
	}
	return writeJSON(w, nonNil(res))
}

func (s *Server) isEnabled(w http.ResponseWriter, r *http.Request) error {
	names := r.URL.Query()["name"]
	if err := checkNames(names, false); err != nil {
		return err
	}
	res, err := s.m.IsEnabled(r.Context(), names)
	if err != nil {
		return err
	}
	return writeJSON(w, nonNil(res))
}

func (s *Server) unitFiles(w http.ResponseWriter, r *http.Request) error {
	op := r.PathValue("op")
	switch op {
	case OpEnable, OpDisable, OpReenable, OpMask, OpUnmask, OpPreset:
	default:
		return notFound("no such unit-file operation %q", op)
	}
	var req InstallRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if err := checkNames(req.Names, false); err != nil {
		return err
	}
	res, err := s.m.UnitFiles(r.Context(), op, req.Names, req.InstallOptions)
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (s *Server) processes(w http.ResponseWriter, r *http.Request) error {
	res, err := s.m.ProcessUnits(r.Context())
	if err != nil {
		return err
	}
	if res == nil {
		res = map[int]string{}
	}
	return writeJSON(w, res)
}

func (s *Server) info(w http.ResponseWriter, r *http.Request) error {
	res, err := s.m.Info(r.Context())
	if err != nil {
		return err
	}
	return writeJSON(w, res)
}

func (s *Server) selfFDs(w http.ResponseWriter, r *http.Request) error {
	res, err := s.m.SelfFDs(r.Context())
	if err != nil {
		return err
	}
	fds := map[int]string{}
	maps.Copy(fds, res.FDs)
	maps.Copy(fds, s.FDs())
	res.FDs = fds
	return writeJSON(w, res)
}

// logs streams entries as newline-delimited JSON, flushed as soon as no
// further entry is ready, so a follower sees each line as it is written.
// It ends when the Manager closes the channel, or when the client goes
// away (the request context ends and the Manager closes the channel in
// answer).
func (s *Server) logs(w http.ResponseWriter, r *http.Request) error {
	var q LogQuery
	if err := decodeBody(r, &q); err != nil {
		return err
	}
	if err := checkLogQuery(q); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch, err := s.m.Logs(ctx, q)
	if err != nil {
		return err
	}
	// The request is read; a follow must outlive the read timeout.
	// net/http clears the deadline itself when it starts watching for the
	// client's disconnect; clear it here too so follows do not rest on
	// that detail.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	_ = rc.Flush()
	streamEntries(ch, w, rc)
	// Stop the Manager and let it close the channel; never leave its
	// sender blocked.
	cancel()
	for range ch {
	}
	return nil
}

// streamEntries writes entries until ch closes or a write fails. Entries
// that are ready at once (a backlog) share a flush; the stream is flushed
// whenever the next entry would have to be waited for.
func streamEntries(ch <-chan LogEntry, w io.Writer, rc *http.ResponseController) {
	var buf []byte
	write := func(e LogEntry) bool {
		// AppendJSON directly: json.Encoder would re-validate its output.
		buf = append(e.AppendJSON(buf[:0]), '\n')
		_, err := w.Write(buf)
		return err == nil
	}
	for e := range ch {
		if !write(e) {
			return
		}
	ready:
		for {
			select {
			case e, ok := <-ch:
				if !ok {
					_ = rc.Flush()
					return
				}
				if !write(e) {
					return
				}
			default:
				break ready
			}
		}
		if rc.Flush() != nil {
			return
		}
	}
}

func boolParam(v, name string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("parameter %s: %q is not a boolean", name, v)
	}
	return b, nil
}

// nonNil makes empty lists encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
