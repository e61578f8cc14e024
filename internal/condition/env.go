package condition

import "os"

// ProcessEnv returns an Env describing the calling process as the service
// manager: its user and groups, environment and credentials directory,
// with host paths. Host name, machine ID and the rest are read at Eval.
func ProcessEnv() Env {
	groups, _ := os.Getgroups()
	if egid := os.Getegid(); egid != os.Getgid() {
		groups = append(groups, egid) // ConditionGroup= also matches the effective group
	}
	return Env{
		UID:            os.Getuid(),
		GID:            os.Getgid(),
		Groups:         groups,
		Environ:        os.Environ(),
		CredentialsDir: os.Getenv("CREDENTIALS_DIRECTORY"),
	}
}
