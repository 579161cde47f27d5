package kernel

import "strconv"

// tcpStates are the kernel's TCP state numbers (include/net/tcp_states.h),
// named the way BCC's tools print them.
var tcpStates = [...]string{
	1:  "ESTABLISHED",
	2:  "SYN_SENT",
	3:  "SYN_RECV",
	4:  "FIN_WAIT1",
	5:  "FIN_WAIT2",
	6:  "TIME_WAIT",
	7:  "CLOSE",
	8:  "CLOSE_WAIT",
	9:  "LAST_ACK",
	10: "LISTEN",
	11: "CLOSING",
	12: "NEW_SYN_RECV",
	13: "BOUND_INACTIVE",
}

// TCPStateName returns the name of a TCP state, or the number itself for
// one this table does not know (a newer kernel).
func TCPStateName(state int) string {
	if state > 0 && state < len(tcpStates) && tcpStates[state] != "" {
		return tcpStates[state]
	}
	return strconv.Itoa(state)
}
