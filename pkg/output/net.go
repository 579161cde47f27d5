package output

import "net/netip"

// afInet is AF_INET: events carry addresses as 16 bytes, IPv4 in the
// first 4.
const afInet = 2

// IP returns the address of an event field: 16 bytes, of which an IPv4
// (family AF_INET) address uses the first 4.
func IP(family uint16, a *[16]uint8) netip.Addr {
	if family == afInet {
		return netip.AddrFrom4([4]byte(a[:4]))
	}
	return netip.AddrFrom16(*a)
}

// PadFrom appends spaces until what was appended since mark is width wide,
// like printf("%-*s") for text appended in place.
func PadFrom(b []byte, mark, width int) []byte {
	for n := len(b) - mark; n < width; n++ {
		b = append(b, ' ')
	}
	return b
}
