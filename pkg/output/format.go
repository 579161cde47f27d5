package output

import (
	"strconv"
	"unsafe"
)

// CString returns the NUL-terminated prefix of a C char array as bpf2go
// generates it ([N]int8), without copying.
func CString(b []int8) []byte {
	p := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(b))), len(b))
	for i, c := range p {
		if c == 0 {
			return p[:i]
		}
	}
	return p
}

// PadRight appends s and then spaces up to width.
func PadRight(b []byte, s []byte, width int) []byte {
	b = append(b, s...)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return b
}

// PadRightString is PadRight for a string.
func PadRightString(b []byte, s string, width int) []byte {
	b = append(b, s...)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return b
}

// IntRight appends v right-aligned in width, like printf("%*d").
func IntRight(b []byte, v int64, width int) []byte {
	var tmp [24]byte
	s := strconv.AppendInt(tmp[:0], v, 10)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

// IntLeft appends v left-aligned in width, like printf("%-*d").
func IntLeft(b []byte, v int64, width int) []byte {
	var tmp [24]byte
	return PadRight(b, strconv.AppendInt(tmp[:0], v, 10), width)
}

// UintLeft appends v left-aligned in width.
func UintLeft(b []byte, v uint64, width int) []byte {
	var tmp [24]byte
	return PadRight(b, strconv.AppendUint(tmp[:0], v, 10), width)
}

// FloatLeft appends v with prec decimals, left-aligned in width.
func FloatLeft(b []byte, v float64, prec, width int) []byte {
	var tmp [32]byte
	return PadRight(b, strconv.AppendFloat(tmp[:0], v, 'f', prec, 64), width)
}

// Octal appends v in octal, zero-padded to width, like printf("%0*o").
func Octal(b []byte, v uint64, width int) []byte {
	var tmp [24]byte
	s := strconv.AppendUint(tmp[:0], v, 8)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// Printable appends s with control characters escaped (\n, \t, \xNN), so a
// hostile or odd file name cannot break the one-line-per-event contract of
// text output. Other bytes pass through unchanged.
func Printable(b []byte, s []byte) []byte {
	for _, c := range s {
		switch {
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'x', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}
