package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/tendproject/tend/internal/fdrole"
)

// Options configure a Server.
type Options struct {
	// Socket is the path the server listens on; used in log messages.
	Socket string
	// OnListenerClosed, if set, runs when Serve has closed the listener
	// (it stops at ctx's end): from then on no connection is accepted,
	// while requests under way finish. A re-exec waits for it.
	OnListenerClosed func()
	// Owner is the uid that may change state besides root: the user of a
	// user instance, 0 for the system instance.
	Owner uint32
	// Logger receives request errors; nil discards them.
	Logger *slog.Logger
	// ReadTimeout bounds reading one request (0: 30 s). Log follows clear
	// it once their query is read.
	ReadTimeout time.Duration
	// UserInstance: the instance is Owner's; its logs are Owner's alone.
	UserInstance bool
	// LogGroups are the gids whose members may read every log of a system
	// instance (adm, systemd-journal); LogGroupNames name them in hints.
	LogGroups     []uint32
	LogGroupNames []string
	// LookupGroups returns a uid's groups from the group database, for
	// kernels that do not report a peer's groups; nil uses os/user.
	LookupGroups func(uid uint32) ([]uint32, error)
	// Limits bound the connections clients may hold.
	Limits Limits
	// DebugPanic, when set, serves POST /v1/debug/panic (root or the
	// owner only), which calls it with the request's "where": the panic
	// recovery tests' hook. The daemon sets it only when run with the
	// hidden flag --debug-panic-hook.
	DebugPanic func(ctx context.Context, where string) error
}

// Limits of the HTTP layer. Requests are small JSON documents; anything
// bigger is a mistake or an attack.
const (
	maxBodyBytes      = 1 << 20
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownGrace     = 5 * time.Second
)

// Server answers the control API for one Manager.
type Server struct {
	m      Manager
	opts   Options
	log    *slog.Logger
	routes []route

	mu sync.Mutex // guards closing, ln, conns and the Add side of handlers
	// closing is set once Serve stops; later requests are turned away so
	// that no handler starts after Serve began to wait for them.
	closing bool
	// ln and conns are what Serve listens and answers on, so that the
	// daemon can name them in /v1/self/fds.
	ln    *limitListener
	conns map[net.Conn]struct{}
	// handlers counts running handlers so Serve can join them.
	handlers sync.WaitGroup
}

// NewServer returns a Server that serves m with opts.
func NewServer(m Manager, opts Options) *Server {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{m: m, opts: opts, log: log}
	s.routes = s.routeTable()
	return s
}

// Serve answers requests on l until ctx is done, then closes l and every
// connection and returns once all handlers finished. Handlers see a context
// that ends with ctx, so long jobs and log follows stop too. A Server
// serves once.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	rt := s.opts.ReadTimeout
	if rt <= 0 {
		rt = readTimeout
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       rt,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext:       withPeerFromConn,
		ConnState:         s.trackConn,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	ll := newLimitListener(l, newLimiter(s.opts.Limits, s.opts.Owner, s.log))
	ll.closed = s.opts.OnListenerClosed
	s.mu.Lock()
	s.ln = ll
	s.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ll) }()

	var err error
	select {
	case err = <-errc:
		// The listener failed on its own; close what is left.
		srv.Close()
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		if srv.Shutdown(sctx) != nil {
			srv.Close()
		}
		cancel()
		<-errc
	}
	s.mu.Lock()
	s.closing = true
	s.ln = nil
	s.mu.Unlock()
	s.handlers.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("serve %s: %w", s.opts.Socket, err)
	}
	return nil
}

// trackConn is the http.Server ConnState hook: it keeps the set of open
// connections for FDs.
func (s *Server) trackConn(c net.Conn, st http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch st {
	case http.StateNew:
		if s.conns == nil {
			s.conns = map[net.Conn]struct{}{}
		}
		s.conns[c] = struct{}{}
	case http.StateClosed, http.StateHijacked:
		delete(s.conns, c)
	}
}

// FDs names the descriptors the server holds: the control socket it
// listens on and every open client connection.
func (s *Server) FDs() map[int]string {
	r := fdrole.Roles{}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		role := "control socket"
		if s.opts.Socket != "" {
			role += " " + s.opts.Socket
		}
		if ln, ok := s.ln.Listener.(syscall.Conn); ok {
			r.Add(ln, role)
		}
		if s.ln.dup != nil {
			r.Add(s.ln.dup, role)
		}
	}
	for c := range s.conns {
		if sc, ok := c.(syscall.Conn); ok {
			r.Add(sc, "api connection")
		}
	}
	return r
}

// Handler returns the full HTTP handler: the route table behind access
// control, panic recovery and the handler count. Serve uses it; it is
// exported for tests and for serving on other listeners. Requests must
// carry peer credentials (WithPeer) to be allowed to change state.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, &ErrorResponse{Error: "no such route: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// wrap applies what every route shares: access control, the body limit,
// error mapping and recovery from a panic in a Manager.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.enter() {
			writeError(w, http.StatusServiceUnavailable, &ErrorResponse{Error: "tend is shutting down"})
			return
		}
		defer s.handlers.Done()
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("api handler panicked", "route", rt.pattern, "panic", v)
				writeError(w, http.StatusInternalServerError, &ErrorResponse{Error: "internal error"})
			}
		}()
		r = r.WithContext(WithAccess(r.Context(), s.access(r.Context())))
		if rt.write {
			if msg, ok := s.authorize(r.Context()); !ok {
				writeError(w, http.StatusForbidden, &ErrorResponse{Error: msg})
				return
			}
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if err := rt.h(w, r); err != nil {
			status, body := errorAnswer(err)
			if status >= 500 {
				s.log.Warn("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, status, body)
		}
	})
}

// enter registers a running handler unless Serve is done.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.handlers.Add(1)
	return true
}

// authorize says whether the peer may change state: root always, the
// owner of a user instance too. When it may not, msg says why in words a
// user understands.
func (s *Server) authorize(ctx context.Context) (msg string, ok bool) {
	who := "root (uid 0)"
	if s.opts.Owner != 0 {
		who = fmt.Sprintf("root (uid 0) or uid %d", s.opts.Owner)
	}
	p, known := PeerFromContext(ctx)
	if !known {
		return "Access denied: changing unit state requires " + who + "; your credentials are unknown", false
	}
	if p.UID == 0 || p.UID == s.opts.Owner {
		return "", true
	}
	return fmt.Sprintf("Access denied: changing unit state requires %s; you are uid %d", who, p.UID), false
}
