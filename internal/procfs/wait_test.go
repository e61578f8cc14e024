package procfs

import "time"

// waitABit is the step of poll-with-deadline loops, used only where the
// kernel offers no event (another process's exec).
func waitABit() { time.Sleep(time.Millisecond) }
