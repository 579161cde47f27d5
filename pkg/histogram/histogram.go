// Package histogram prints the histograms of bpftk's histogram tools in the
// text format BCC's libbpf-tools print (so scripts and eyes trained on them
// keep working) and as JSON.
//
// Log2 histograms: bucket i holds values v with floor(log2(v)) == i, bucket 0
// holds 0 and 1. Rows run from bucket 0 to the highest non-empty bucket; an
// all-zero histogram prints nothing, as in libbpf-tools.
package histogram

import (
	"math/bits"
	"strconv"
)

// MaxSlots is the number of log2 buckets a u64 value can need.
const MaxSlots = 64

// Hist is one histogram: a section of a report.
type Hist struct {
	// Prefix is printed verbatim before the histogram in text mode: the
	// tool's section heading with its own newlines ("\ndisk = vda\t\n",
	// "\npid = 181 bash\n"), empty for none.
	Prefix string
	// Keys are the section's identity in JSON ({"disk": "vda"}).
	Keys map[string]any
	// Slots are the bucket counts.
	Slots []uint64
	// Sum is the total of the recorded values in nanoseconds (or in the
	// unit's base for non-time histograms); Count the number of values. The
	// BPF side keeps both, so JSON users get averages and totals.
	SumNs uint64
	Count uint64
}

// Total returns the number of values in the buckets.
func (h *Hist) Total() uint64 {
	var n uint64
	for _, c := range h.Slots {
		n += c
	}
	return n
}

// bucketBounds returns the printed bounds of log2 bucket i.
func bucketBounds(i int) (low, high uint64) {
	if i >= 63 {
		return 1 << 63, ^uint64(0)
	}
	low = (uint64(1) << (i + 1)) >> 1
	high = (uint64(1) << (i + 1)) - 1
	if low == high {
		low--
	}
	return low, high
}

// stars returns count*width/max without overflowing for huge counts.
func stars(count, max uint64, width int) int {
	if max == 0 {
		return 0
	}
	if count > max {
		count = max
	}
	hi, lo := bits.Mul64(count, uint64(width))
	q, _ := bits.Div64(hi, lo, max)
	return int(q)
}

func appendBar(b []byte, count, max uint64, width int) []byte {
	n := stars(count, max, width)
	b = append(b, '|')
	for i := 0; i < width; i++ {
		if i < n {
			b = append(b, '*')
		} else {
			b = append(b, ' ')
		}
	}
	return append(b, '|')
}

func padLeft(b []byte, s []byte, width int) []byte {
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, s...)
}

func padRight(b []byte, s []byte, width int) []byte {
	b = append(b, s...)
	for i := len(s); i < width; i++ {
		b = append(b, ' ')
	}
	return b
}

func spaces(b []byte, n int) []byte {
	for i := 0; i < n; i++ {
		b = append(b, ' ')
	}
	return b
}

// AppendLog2 appends a log2 histogram in libbpf-tools' print_log2_hist
// format, with unit the label of the value column ("usecs", "msecs").
func AppendLog2(b []byte, slots []uint64, unit string) []byte {
	idxMax := -1
	var valMax uint64
	for i, c := range slots {
		if c > 0 {
			idxMax = i
		}
		if c > valMax {
			valMax = c
		}
	}
	if idxMax < 0 {
		return b
	}
	// Beyond 2^32 the bounds need 20 digits: wider columns, shorter bar.
	numWidth, barWidth := 10, 40
	if idxMax > 32 {
		b = spaces(b, 15)
		b = padRight(b, []byte(unit), 29)
		numWidth, barWidth = 20, 20
	} else {
		b = spaces(b, 5)
		b = padRight(b, []byte(unit), 19)
	}
	b = append(b, " : count    distribution\n"...)
	var tmp [24]byte
	for i := 0; i <= idxMax; i++ {
		low, high := bucketBounds(i)
		b = padLeft(b, strconv.AppendUint(tmp[:0], low, 10), numWidth)
		b = append(b, " -> "...)
		b = padRight(b, strconv.AppendUint(tmp[:0], high, 10), numWidth)
		b = append(b, " : "...)
		b = padRight(b, strconv.AppendUint(tmp[:0], slots[i], 10), 8)
		b = append(b, ' ')
		b = appendBar(b, slots[i], valMax, barWidth)
		b = append(b, '\n')
	}
	return b
}

// AppendLinear appends a linear histogram (bucket i covers base+i*step) in
// libbpf-tools' print_linear_hist format: rows from the first to the last
// non-empty bucket.
func AppendLinear(b []byte, slots []uint64, base, step int64, unit string) []byte {
	idxMin, idxMax := -1, -1
	var valMax uint64
	for i, c := range slots {
		if c > 0 {
			if idxMin < 0 {
				idxMin = i
			}
			idxMax = i
		}
		if c > valMax {
			valMax = c
		}
	}
	if idxMax < 0 {
		return b
	}
	b = spaces(b, 5)
	b = padRight(b, []byte(unit), 13)
	b = append(b, " : count     distribution\n"...)
	var tmp [24]byte
	for i := idxMin; i <= idxMax; i++ {
		b = spaces(b, 8)
		b = padRight(b, strconv.AppendInt(tmp[:0], base+int64(i)*step, 10), 10)
		b = append(b, " : "...)
		b = padRight(b, strconv.AppendUint(tmp[:0], slots[i], 10), 8)
		b = append(b, ' ')
		b = appendBar(b, slots[i], valMax, 40)
		b = append(b, '\n')
	}
	return b
}

// Log2Slot returns the log2 bucket of v, as the BPF side computes it.
func Log2Slot(v uint64) int {
	if v == 0 {
		return 0
	}
	return bits.Len64(v) - 1
}
