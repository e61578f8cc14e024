package timer

import (
	"encoding/binary"
	"math/bits"
	"time"
)

// fixedDelayKey is the SipHash key systemd hashes a timer's fixed random
// delay with (timer.c); with the same machine, manager, user and name,
// FixedRandomDelay=yes gives the delay systemd would.
var fixedDelayKey = [16]byte{0x51, 0x0a, 0xdb, 0x76, 0x29, 0x51, 0x42, 0xc2, 0x80, 0x35, 0xea, 0xe6, 0x8e, 0x3a, 0x37, 0xbd}

// Host is what the delays of this machine's timers depend on.
type Host struct {
	MachineID [16]byte // /etc/machine-id, raw; zero when unknown
	System    bool     // the system instance (not a user's)
	UID       uint32   // the manager's uid
	// Perturb is the per-boot point within each minute (and 10 s, 1 s,
	// 250 ms) where timers with room to spare wake together, derived
	// from the boot id as sd-event derives it.
	Perturb time.Duration
}

// FixedDelayHash is the stable hash of timer name on h that
// FixedRandomDelay=yes takes its delay from.
func (h Host) FixedDelayHash(name string) uint64 {
	msg := make([]byte, 0, 16+1+4+len(name))
	msg = append(msg, h.MachineID[:]...)
	b := byte(0)
	if h.System {
		b = 1
	}
	msg = append(msg, b)
	msg = binary.LittleEndian.AppendUint32(msg, h.UID)
	msg = append(msg, name...)
	return sipHash24(fixedDelayKey, msg)
}

// RandomDelay is the delay a timer called name adds to each elapse:
// a hash of machine and timer when fixed, else rnd (a fresh random
// number), reduced modulo max. Zero when max is zero.
func (h Host) RandomDelay(name string, max time.Duration, fixed bool, rnd uint64) time.Duration {
	usec := uint64(max / time.Microsecond)
	if usec == 0 {
		return 0
	}
	if fixed {
		rnd = h.FixedDelayHash(name)
	}
	return time.Duration(rnd%usec) * time.Microsecond
}

// PerturbFromBootID is sd-event's perturbation: the two halves of the
// boot id xored, modulo a minute.
func PerturbFromBootID(id [16]byte) time.Duration {
	x := binary.LittleEndian.Uint64(id[:8]) ^ binary.LittleEndian.Uint64(id[8:])
	return time.Duration(x%uint64(time.Minute/time.Microsecond)) * time.Microsecond
}

// Coalesce picks the wake-up time for an elapse due at a (microseconds
// on its clock) that may be late by up to accuracy, as sd-event does:
// the latest time in [a, a+accuracy] that is the perturbation point of a
// minute, else of 10 s, 1 s or 250 ms, else a+accuracy. Timers of the
// whole machine thus wake together, and as late as they may.
func Coalesce(a, accuracy uint64, perturb time.Duration) uint64 {
	b := a + accuracy
	if b <= a+1 {
		return a
	}
	p := uint64(perturb / time.Microsecond)
	for _, step := range []uint64{60e6, 10e6, 1e6, 250e3} {
		c := b/step*step + p%step
		if c >= b {
			if c < step {
				return b
			}
			c -= step
		}
		if c >= a {
			return c
		}
	}
	return b
}

// sipHash24 is SipHash-2-4 of msg under key (Aumasson and Bernstein).
func sipHash24(key [16]byte, msg []byte) uint64 {
	k0, k1 := binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])
	v0, v1 := k0^0x736f6d6570736575, k1^0x646f72616e646f6d
	v2, v3 := k0^0x6c7967656e657261, k1^0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13) ^ v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16) ^ v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21) ^ v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17) ^ v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(msg)
	for ; len(msg) >= 8; msg = msg[8:] {
		m := binary.LittleEndian.Uint64(msg)
		v3 ^= m
		round()
		round()
		v0 ^= m
	}
	var last [8]byte
	copy(last[:], msg)
	last[7] = byte(n)
	m := binary.LittleEndian.Uint64(last[:])
	v3 ^= m
	round()
	round()
	v0 ^= m
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}
