package calendar

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

var spanCases = []string{
	"1h 30min", "2s 500ms", "infinity", " infinity ", "5", "0", ".5", "5.", "x", "-1", "+5", "+.5",
	"99999999999999999999", "1y 2M 3w 4d 5h 6min 7s 8ms 9us", "59.999999s", "61.5s", "1.5ms",
	"5 10", "", "1.5us", "1 µs", "1μs", " 5 ", "3 sec", "2 hours", "1minute", "1m", "1M", "1month",
	"12.34.56", "12.34 .56", "12.34s.56", "1.123456789s", "100000000000h", "1weeks 2days", "1 d",
	"3s10", "5sx", "1e3", "0x10", "1.5 h", "\t7s\n", "10 msec", "2usec", "1y1y", "0.0000001s",
	"584542y", "584541y", "1h 1h 1h",
}

// oracleSpan runs systemd-analyze timespan on one span.
func oracleSpan(t *testing.T, s string) string {
	out, errOut := runAnalyze(t, "UTC", "timespan", "--", s)
	if i := strings.Index(errOut, "Failed to parse time span"); i >= 0 {
		line, _, _ := strings.Cut(errOut[i:], "\n")
		return "error: " + line[strings.LastIndex(line, ": ")+2:]
	}
	var us, human string
	for _, l := range strings.Split(out, "\n") {
		name, val, _ := strings.Cut(strings.TrimLeft(l, " "), ": ")
		switch name {
		case "μs":
			us = val
		case "Human":
			human = val
		}
	}
	return us + " " + human
}

func ourSpan(s string) string {
	v, err := ParseTimespan(s)
	if err != nil {
		msg := err.(*Error).Errno.Error()
		return "error: " + strings.ToUpper(msg[:1]) + msg[1:]
	}
	return fmt.Sprint(uint64(v)) + " " + v.String()
}

func TestTimespanOracle(t *testing.T) {
	analyzer(t)
	cases := append([]string(nil), spanCases...)
	r := rand.New(rand.NewSource(7))
	units := []string{"", "s", "ms", "us", "min", "h", "d", "w", "M", "y", "sec", "msec", "usec", " ", "x"}
	for i := 0; i < 60; i++ {
		var b strings.Builder
		for j := 0; j <= r.Intn(3); j++ {
			fmt.Fprintf(&b, "%d", r.Intn(1000))
			if r.Intn(3) == 0 {
				fmt.Fprintf(&b, ".%d", r.Intn(10000))
			}
			b.WriteString(units[r.Intn(len(units))])
			if r.Intn(2) == 0 {
				b.WriteByte(' ')
			}
		}
		cases = append(cases, b.String())
	}
	for _, s := range cases {
		if strings.HasPrefix(strings.TrimLeft(s, " \t"), "-") && s != "-1" {
			continue
		}
		if got, want := ourSpan(s), oracleSpan(t, s); got != want {
			t.Errorf("timespan %q: got %q; want %q", s, got, want)
		}
	}
}

func TestFormatTimespanAccuracy(t *testing.T) {
	for _, tc := range []struct {
		v    Timespan
		acc  uint64
		want string
	}{
		{5400 * usecPerSec, 0, "1h 30min"},
		{2500000, 0, "2.500000s"},
		{2500000, 1000, "2.500s"},
		{90*usecPerSec + 123, usecPerSec, "1min 30s"},
		{Infinity, 0, "infinity"},
		{0, 0, "0"},
	} {
		if got := FormatTimespan(tc.v, tc.acc); got != tc.want {
			t.Errorf("FormatTimespan(%d, %d) = %q; want %q", tc.v, tc.acc, got, tc.want)
		}
	}
}
