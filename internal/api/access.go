package api

import (
	"context"
	"fmt"
	"os/user"
	"slices"
	"strconv"
	"strings"

	"github.com/tendproject/tend/internal/unit"
)

// Access is what the caller of one request may read. The server decides it
// from the connection's kernel credentials before any handler runs, and
// hands it to the Manager in the request's context (AccessFromContext):
// the Manager knows which units run as whom, the server knows who asks.
//
// The rules are journald's: the logs of a system instance are readable by
// root, by members of the log groups (adm, systemd-journal) and, for the
// entries their own processes wrote, by everyone else; a user instance's
// by its owner and root. Unit files and Environment= values may hold
// secrets and are readable by root and the instance's owner only.
type Access struct {
	UID   uint32
	Known bool // the credentials are known; without them nothing is readable
	// AllLogs: every journal entry (root, the owner, a log group member).
	AllLogs bool
	// OwnLogs: the entries of processes running as UID (system instance).
	OwnLogs bool
	// Secrets: unit files and Environment= values.
	Secrets bool
	// LogGroups names the groups that grant AllLogs, for hints.
	LogGroups []string
}

// FullAccess is what in-process callers of a Manager (not the server)
// pass: they are the daemon itself.
var FullAccess = Access{Known: true, AllLogs: true, OwnLogs: true, Secrets: true}

type accessKey struct{}

// WithAccess returns ctx carrying a.
func WithAccess(ctx context.Context, a Access) context.Context {
	return context.WithValue(ctx, accessKey{}, a)
}

// AccessFromContext returns the caller's Access. A context without one
// (a Manager called outside the server and without WithAccess) grants
// nothing: forgetting to decide must not open anything up.
func AccessFromContext(ctx context.Context) Access {
	a, _ := ctx.Value(accessKey{}).(Access)
	return a
}

// MayReadUID reports whether entries written by processes running as uid
// are readable.
func (a Access) MayReadUID(uid int) bool {
	return a.AllLogs || a.OwnLogs && uid >= 0 && uint32(uid) == a.UID
}

// LogsDenied is the error for a caller asking for the logs of a unit it
// may not read; it names the groups that would let it.
func (a Access) LogsDenied(unitName string) error {
	msg := fmt.Sprintf("Access denied: the logs of %s are readable by root", unitName)
	if len(a.LogGroups) > 0 && a.OwnLogs {
		msg += ", by members of group " + strings.Join(a.LogGroups, " or ")
	}
	if a.OwnLogs {
		msg += " and by the unit's User="
	} else {
		msg += " and by the instance's owner"
	}
	msg += "; you are " + a.who() + "."
	if len(a.LogGroups) > 0 && a.OwnLogs {
		msg += fmt.Sprintf(" Hint: users in group %s can see all messages.", strings.Join(a.LogGroups, " or "))
	}
	return &UnitError{Unit: unitName, Err: &denied{msg}}
}

func (a Access) who() string {
	if !a.Known {
		return "unknown (no credentials)"
	}
	return fmt.Sprintf("uid %d", a.UID)
}

// denied is an access error with a message for people; it matches
// ErrAccessDenied.
type denied struct{ msg string }

func (e *denied) Error() string        { return e.msg }
func (e *denied) Is(target error) bool { return target == ErrAccessDenied }

// access decides what the peer of ctx may read.
func (s *Server) access(ctx context.Context) Access {
	a := Access{LogGroups: s.opts.LogGroupNames}
	p, known := PeerFromContext(ctx)
	if !known {
		return a
	}
	a.UID, a.Known = p.UID, true
	if p.UID == 0 || p.UID == s.opts.Owner {
		a.AllLogs, a.OwnLogs, a.Secrets = true, true, true
		return a
	}
	if s.opts.UserInstance {
		// Everything in a user instance is its owner's.
		a.LogGroups = nil
		return a
	}
	a.OwnLogs = true
	a.AllLogs = s.inLogGroup(p)
	return a
}

// inLogGroup reports whether the peer is in one of the log groups. The
// groups are those the kernel recorded when the peer connected
// (SO_PEERGROUPS): the process's real credentials, like the file
// permissions journald relies on, with no race against the peer exiting
// and its pid being reused (which reading /proc/PID/status would have) and
// no lag behind the group database. Only kernels without the option fall
// back to the group database.
func (s *Server) inLogGroup(p Peer) bool {
	if len(s.opts.LogGroups) == 0 {
		return false
	}
	if slices.Contains(s.opts.LogGroups, p.GID) {
		return true
	}
	groups := p.Groups
	if !p.GroupsKnown {
		lookup := s.opts.LookupGroups
		if lookup == nil {
			lookup = lookupGroups
		}
		var err error
		if groups, err = lookup(p.UID); err != nil {
			s.log.Debug("cannot look up groups", "uid", p.UID, "err", err)
			return false
		}
	}
	for _, g := range groups {
		if slices.Contains(s.opts.LogGroups, g) {
			return true
		}
	}
	return false
}

// lookupGroups asks the group database for uid's groups.
func lookupGroups(uid uint32) ([]uint32, error) {
	u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10))
	if err != nil {
		return nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, id := range ids {
		if g, err := strconv.ParseUint(id, 10, 32); err == nil {
			out = append(out, uint32(g))
		}
	}
	return out, nil
}

// checkSecrets refuses callers that may not read unit files.
func (s *Server) checkSecrets(ctx context.Context, what string) error {
	a := AccessFromContext(ctx)
	if a.Secrets {
		return nil
	}
	who := "root (uid 0)"
	if s.opts.Owner != 0 {
		who = fmt.Sprintf("root (uid 0) or uid %d", s.opts.Owner)
	}
	return &denied{fmt.Sprintf("Access denied: %s may hold secrets and are readable by %s only; you are %s", what, who, a.who())}
}

// HiddenValue replaces a secret value for callers who may not read it.
const HiddenValue = "[hidden]"

// secretProperties are the properties whose values may hold secrets.
// Environment= shows its variables' names; the others only that they are
// set.
var secretProperties = []string{"Environment", "SetCredential", "SetCredentialEncrypted", "LogExtraFields"}

// redactProperties hides secret values from callers who may not read
// them: Environment=A=1 "B=x y" becomes Environment=A=[hidden] B=[hidden].
func redactProperties(a Access, props map[string]string) {
	if a.Secrets {
		return
	}
	for _, k := range secretProperties {
		v, ok := props[k]
		if !ok || v == "" {
			continue
		}
		if k == "Environment" {
			props[k] = redactEnvironment(v)
			continue
		}
		props[k] = HiddenValue
	}
}

// redactEnvironment keeps the names of an Environment= value's
// assignments. A value that does not parse is hidden whole.
func redactEnvironment(v string) string {
	assigns, _, err := unit.ParseEnvironment(v)
	if err != nil {
		return HiddenValue
	}
	var b strings.Builder
	for i, as := range assigns {
		name, _, _ := strings.Cut(as, "=")
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(name)
		b.WriteString("=" + HiddenValue)
	}
	return b.String()
}
