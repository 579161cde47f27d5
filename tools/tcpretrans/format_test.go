package main

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func event(family uint16, src, dst string, sport, dport uint16, state, typ uint8) *tcpretransEvent {
	e := &tcpretransEvent{Pid: 0, Family: family, Sport: sport, Dport: dport, State: state, Type: typ}
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	if family == afInet {
		a, b := s.As4(), d.As4()
		copy(e.Saddr[:], a[:])
		copy(e.Daddr[:], b[:])
	} else {
		e.Saddr, e.Daddr = s.As16(), d.As16()
	}
	return e
}

var at = time.Date(2026, 11, 25, 1, 55, 5, 0, time.UTC)

func TestFormatText(t *testing.T) {
	got := string(formatEvent(nil, event(afInet, "10.153.223.157", "69.53.245.40", 22, 34619, 1, typeRetrans), at, false)) +
		string(formatEvent(nil, event(afInet6, "2001:db8::1", "2001:db8::2", 443, 50123, 4, typeTLP), at, false)) +
		string(formatEvent(nil, event(afInet, "10.0.0.1", "10.0.0.2", 1, 2, 42, typeRetrans), at, false))
	// Widths as BCC: TIME 8, PID 7, IP 2, LADDR:LPORT 20, "R> ", RADDR:RPORT 20.
	want := "01:55:05 0       4  10.153.223.157:22    R> 69.53.245.40:34619   ESTABLISHED\n" +
		"01:55:05 0       6  2001:db8::1:443      L> 2001:db8::2:50123    FIN_WAIT1\n" +
		"01:55:05 0       4  10.0.0.1:1           R> 10.0.0.2:2           42\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if !strings.HasPrefix(header, "TIME     PID     IP LADDR:LPORT          T> RADDR:RPORT          STATE") {
		t.Fatalf("header %q", header)
	}
}

func TestFormatJSON(t *testing.T) {
	line := formatEvent(nil, event(afInet6, "::1", "::1", 8080, 50000, 1, typeRetrans), at, true)
	var e map[string]any
	if err := json.Unmarshal(line, &e); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	want := map[string]any{"time": "2026-11-25T01:55:05Z", "pid": 0.0, "ip": 6.0, "laddr": "::1", "lport": 8080.0,
		"raddr": "::1", "rport": 50000.0, "type": "R", "state": "ESTABLISHED"}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("%s = %v, want %v", k, e[k], v)
		}
	}
	if len(e) != len(want) {
		t.Errorf("fields %v", e)
	}
}

func TestFormatNoAlloc(t *testing.T) {
	e := event(afInet, "10.0.0.1", "10.0.0.2", 1, 2, 1, typeRetrans)
	buf := make([]byte, 0, 256)
	if n := testing.AllocsPerRun(100, func() { buf = formatEvent(buf[:0], e, at, false) }); n != 0 {
		t.Errorf("text: %v allocations per event", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = formatEvent(buf[:0], e, at, true) }); n != 0 {
		t.Errorf("json: %v allocations per event", n)
	}
}
