package inetd

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tendproject/tend/internal/activate"
	"github.com/tendproject/tend/internal/unit"
)

// unlimited is what xinetd's UNLIMITED becomes: systemd's
// MaxConnections= has no "infinity".
const unlimited = math.MaxUint32

// xinetd's default cps: 50 connections a second, then 10 s of rest.
const (
	xinetdCPS     = 50
	xinetdCPSWait = 10 * time.Second
)

// xinetdRlimits maps rlimit_* attributes to Limit*= names.
var xinetdRlimits = map[string]string{"rlimit_as": "AS", "rlimit_cpu": "CPU", "rlimit_data": "DATA",
	"rlimit_rss": "RSS", "rlimit_stack": "STACK", "rlimit_files": "NOFILE", "rlimit_core": "CORE"}

// xinetdIgnored are attributes that only concern xinetd's own logging
// or features tend does not have: warned about by name, not applied.
var xinetdIgnored = []string{"log_type", "log_on_success", "log_on_failure", "banner", "banner_success",
	"banner_fail", "access_times", "max_load", "deny_time", "mdns", "libwrap", "groups", "rpc_version",
	"rpc_number", "enabled", "disabled"}

// xinetdKnown are the attributes service handles itself.
var xinetdKnown = []string{"id", "type", "socket_type", "protocol", "wait", "user", "group", "server",
	"server_args", "port", "disable", "flags", "bind", "interface", "v6only", "only_from", "no_access",
	"instances", "per_source", "cps", "env", "passenv", "nice", "umask", "redirect"}

// service converts one block; skip is set for a disabled service.
func (r *xreader) service(b *block, env Env) (s *Service, skip bool, err error) {
	if v, _, _ := r.one(b, "disable"); v == "yes" {
		return nil, true, nil
	}
	if dis, _ := r.get(r.defaults, "disabled"); slices.Contains(dis, b.name) {
		return nil, true, nil
	}
	if en, ok := r.get(r.defaults, "enabled"); ok && !slices.Contains(en, b.name) {
		return nil, true, nil
	}
	s = &Service{File: b.file, Line: b.line, Orig: "service " + b.name}
	one := func(name string) string {
		v, _, e := r.one(b, name)
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	types, _ := r.get(b, "type")
	for _, t := range types {
		switch t {
		case "INTERNAL", "UNLISTED":
		case "RPC", "TCPMUX", "TCPMUXPLUS":
			return nil, false, fmt.Errorf("type %s is not supported", t)
		default:
			return nil, false, fmt.Errorf("unknown type %q", t)
		}
	}
	id := one("id")
	if id == "" {
		id = b.name
	}
	s.Name = "xinetd-" + nameEscape(id)
	if err := unit.ValidName(s.Name + ".socket"); err != nil {
		return nil, false, err
	}
	if v := one("redirect"); v != "" {
		return nil, false, errors.New("redirect is not supported")
	}
	sockType, proto := one("socket_type"), one("protocol")
	if sockType == "" {
		return nil, false, errors.New("missing socket_type")
	}
	if proto == "" {
		proto = map[string]string{"stream": "tcp", "dgram": "udp"}[sockType]
	}
	typ, err := socketType(sockType, proto)
	if err != nil {
		return nil, false, err
	}
	switch one("wait") {
	case "yes":
		s.Wait = true
	case "no":
	case "":
		return nil, false, errors.New("missing wait")
	default:
		return nil, false, fmt.Errorf("wait = %q: want yes or no", one("wait"))
	}
	if typ == activate.Datagram && !s.Wait {
		s.Wait = true
		s.Notes = append(s.Notes, "dgram with wait = no: served as wait (the server gets the socket; one at a time until it exits)")
	}
	if err := r.program(b, s, id, types, env, one); err != nil {
		return nil, false, err
	}
	if err := r.listen(b, s, typ, proto, types, env, one); err != nil {
		return nil, false, err
	}
	if err := r.limits(b, s, one); err != nil {
		return nil, false, err
	}
	if err := r.access(b, s); err != nil {
		return nil, false, err
	}
	if err != nil {
		return nil, false, err
	}
	r.unknown(b, s)
	return s, false, nil
}

// program fills the server, its arguments and credentials.
func (r *xreader) program(b *block, s *Service, id string, types []string, env Env, one func(string) string) error {
	if slices.Contains(types, "INTERNAL") {
		name := b.name
		if !slices.Contains(activate.Builtins, name) {
			return fmt.Errorf("no internal service %q (tend has %s)", name, strings.Join(activate.Builtins, ", "))
		}
		s.Internal = name
		return nil
	}
	user := one("user")
	if user == "" {
		return errors.New("missing user")
	}
	var err error
	if s.User, s.Group, err = parseUser(user+":"+one("group"), env); err != nil {
		return err
	}
	server := one("server")
	if server == "" {
		return errors.New("missing server")
	}
	if !filepath.IsAbs(server) {
		return fmt.Errorf("server %q is not an absolute path", server)
	}
	args, _ := r.get(b, "server_args")
	flags, _ := r.get(b, "flags")
	s.Path = server
	if slices.Contains(flags, "NAMEINARGS") {
		s.Argv = args // server_args start with argv[0], as inetd's do
		if len(s.Argv) == 0 {
			return errors.New("flags NAMEINARGS but no server_args")
		}
	} else {
		s.Argv = append([]string{filepath.Base(server)}, args...)
	}
	for _, e := range must(r.get(b, "env")) {
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("env %q: want NAME=value", e)
		}
		s.Environment = append(s.Environment, e)
	}
	s.PassEnvironment, _ = r.get(b, "passenv")
	if v := one("nice"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < -20 || n > 19 {
			return fmt.Errorf("nice %q: want -20…19", v)
		}
		s.Nice = &n
	}
	if v := one("umask"); v != "" {
		if _, err := strconv.ParseUint(v, 8, 32); err != nil {
			return fmt.Errorf("umask %q: want an octal mode", v)
		}
		s.UMask = v
	}
	for attr, lim := range xinetdRlimits {
		if v := one(attr); v != "" {
			if v == "UNLIMITED" {
				v = "infinity"
			}
			if s.Limits == nil {
				s.Limits = map[string]string{}
			}
			s.Limits[lim] = v
		}
	}
	return nil
}

func must(v []string, _ bool) []string { return v }

// listen works out the address: port from the attribute or services(5),
// bind/interface, and the IPv4/IPv6 flags.
func (r *xreader) listen(b *block, s *Service, typ activate.SocketType, proto string, types []string, env Env, one func(string) string) error {
	flags, _ := r.get(b, "flags")
	for _, f := range flags {
		switch f {
		case "KEEPALIVE":
			s.KeepAlive = true
		case "NODELAY":
			s.NoDelay = true
		case "IPv4", "IPv6", "NAMEINARGS", "REUSE", "NOLIBWRAP", "NORETRY":
		default:
			s.Notes = append(s.Notes, "flags "+f+" is not supported, ignored")
		}
	}
	netProto := strings.TrimRight(proto, "46")
	if proto == "unix" {
		return errors.New("protocol unix is not an xinetd protocol")
	}
	var port int
	portAttr := one("port")
	if portAttr != "" {
		n, err := strconv.Atoi(portAttr)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q: want 1…65535", portAttr)
		}
		port = n
	}
	if !slices.Contains(types, "UNLISTED") {
		p, _, err := env.Services.Port(b.name, netProto)
		switch {
		case err != nil && port == 0:
			return err
		case err == nil && port != 0 && p != port:
			return fmt.Errorf("port %d differs from %s's port %d in the services file", port, b.name, p)
		case err == nil:
			port = p
		}
	} else if port == 0 {
		return errors.New("UNLISTED service without port")
	}
	host := "*"
	if v := one("bind"); v != "" {
		host = v
	} else if v := one("interface"); v != "" {
		host = v
	}
	if host != "*" {
		if _, err := splitHosts(host); err != nil {
			return err
		}
	}
	p := proto
	switch {
	case strings.Contains(host, ":") || host == "*" && slices.Contains(flags, "IPv6"):
		p = netProto + "46"
		if one("v6only") == "yes" {
			p = netProto + "6"
		}
	}
	addr, v6, err := listenAddr(host, p, port)
	if err != nil {
		return err
	}
	a, err := activate.ParseAddress(typ, addr)
	if err != nil {
		return err
	}
	s.Listen, s.BindIPv6Only = []activate.Address{a}, v6
	return nil
}

// limits maps instances, per_source and cps.
func (r *xreader) limits(b *block, s *Service, one func(string) string) error {
	count := func(name string) (int, error) {
		v := one(name)
		if v == "" {
			return 0, nil
		}
		if v == "UNLIMITED" {
			return unlimited, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("%s %q: want a positive number or UNLIMITED", name, v)
		}
		return n, nil
	}
	var err error
	if s.MaxConnections, err = count("instances"); err != nil {
		return err
	}
	if s.MaxConnections == 0 {
		s.MaxConnections = unlimited // xinetd's default
	}
	if s.MaxConnectionsPerSource, err = count("per_source"); err != nil {
		return err
	}
	s.RateBurst, s.RateInterval, s.RateHold = xinetdCPS, time.Second, xinetdCPSWait
	if v, ok := r.get(b, "cps"); ok {
		if len(v) != 2 {
			return fmt.Errorf("cps %q: want connections-per-second and seconds to wait", strings.Join(v, " "))
		}
		n, err1 := strconv.Atoi(v[0])
		w, err2 := strconv.Atoi(v[1])
		if err1 != nil || err2 != nil || n < 1 || w < 1 {
			return fmt.Errorf("cps %q: want two positive numbers", strings.Join(v, " "))
		}
		s.RateBurst, s.RateHold = n, time.Duration(w)*time.Second
	}
	return nil
}

// unknown warns about attributes tend does not apply.
func (r *xreader) unknown(b *block, s *Service) {
	var ignored, unknown []string
	seen := map[string]bool{}
	for _, m := range []map[string]*attr{b.attrs, r.defaults.attrs} {
		for k := range m {
			seen[k] = true
		}
	}
	for k := range b.adds {
		seen[k] = true
	}
	for k := range seen {
		switch {
		case slices.Contains(xinetdKnown, k) || xinetdRlimits[k] != "":
		case slices.Contains(xinetdIgnored, k):
			if k != "enabled" && k != "disabled" {
				ignored = append(ignored, k)
			}
		default:
			unknown = append(unknown, k)
		}
	}
	slices.Sort(ignored)
	slices.Sort(unknown)
	if len(ignored) > 0 {
		s.Notes = append(s.Notes, "not applied by tend: "+strings.Join(ignored, ", "))
	}
	if len(unknown) > 0 {
		s.Notes = append(s.Notes, "unknown attributes, ignored: "+strings.Join(unknown, ", "))
	}
}
