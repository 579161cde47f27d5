package kernel

import "testing"

func TestTCPStateName(t *testing.T) {
	for state, want := range map[int]string{1: "ESTABLISHED", 7: "CLOSE", 12: "NEW_SYN_RECV", 0: "0", 99: "99", -1: "-1"} {
		if got := TCPStateName(state); got != want {
			t.Errorf("TCPStateName(%d) = %q, want %q", state, got, want)
		}
	}
}
