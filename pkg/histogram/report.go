package histogram

import (
	"time"

	"github.com/bpftk/bpftk/pkg/output"
)

// Unit is a histogram's value unit.
type Unit struct {
	Name string // the label printed in the header: "usecs", "msecs"
	Ns   uint64 // nanoseconds per unit (1 for non-time units)
}

// Common units.
var (
	Nsecs = Unit{"nsecs", 1}
	Usecs = Unit{"usecs", 1000}
	Msecs = Unit{"msecs", 1000000}
)

// Report is what a histogram tool prints once per interval (or once at
// the end): an optional timestamp and one histogram per section.
type Report struct {
	Unit      Unit
	Time      time.Time // wall-clock time of the report
	Timestamp bool      // -T: print Time as HH:MM:SS before the histograms
	Hists     []Hist
}

// AppendText appends the report as libbpf-tools prints one interval: a blank
// line, the optional time line, then each section's prefix and histogram.
func (r *Report) AppendText(b []byte) []byte {
	b = append(b, '\n')
	if r.Timestamp {
		b = r.Time.AppendFormat(b, "15:04:05")
		b = append(b, '\n')
	}
	for i := range r.Hists {
		b = append(b, r.Hists[i].Prefix...)
		b = AppendLog2(b, r.Hists[i].Slots, r.Unit.Name)
	}
	return b
}

// Bucket is one row of a histogram in JSON.
type Bucket struct {
	Low   uint64 `json:"low"`
	High  uint64 `json:"high"`
	Count uint64 `json:"count"`
}

// JSONHist is one section in JSON: its keys are merged in beside the rest.
type JSONHist struct {
	Keys    map[string]any
	Count   uint64   `json:"count"`
	Sum     float64  `json:"sum"`
	SumNs   uint64   `json:"sum_ns"`
	Buckets []Bucket `json:"buckets"`
}

// JSONReport is the JSON form of a Report.
type JSONReport struct {
	Time       string     `json:"time"`
	Unit       string     `json:"unit"`
	Histograms []JSONHist `json:"histograms"`
}

// JSON returns the report as JSON-ready values: buckets from 0 up to the
// highest non-empty one (as in the text), the count of values and their sum
// in the report's unit (sum) and in nanoseconds (sum_ns).
func (r *Report) JSON() JSONReport {
	out := JSONReport{Time: r.Time.Format(time.RFC3339Nano), Unit: r.Unit.Name, Histograms: []JSONHist{}}
	for _, h := range r.Hists {
		jh := JSONHist{Keys: h.Keys, Count: h.Count, SumNs: h.SumNs, Buckets: []Bucket{}}
		if r.Unit.Ns > 0 {
			jh.Sum = float64(h.SumNs) / float64(r.Unit.Ns)
		}
		last := -1
		for i, c := range h.Slots {
			if c > 0 {
				last = i
			}
		}
		for i := 0; i <= last; i++ {
			low, high := bucketBounds(i)
			jh.Buckets = append(jh.Buckets, Bucket{Low: low, High: high, Count: h.Slots[i]})
		}
		out.Histograms = append(out.Histograms, jh)
	}
	return out
}

// AppendJSON appends the report as one JSON line, each section's keys
// beside its count, sum and buckets.
func (r JSONReport) AppendJSON(b []byte) []byte {
	b = output.Obj(b)
	b = output.StrString(b, "time", r.Time)
	b = output.StrString(b, "unit", r.Unit)
	b = append(output.Key(b, "histograms"), '[')
	for _, h := range r.Histograms {
		b = output.Obj(b)
		for _, k := range sortedKeys(h.Keys) {
			b = output.Any(b, k, h.Keys[k])
		}
		b = output.Uint(b, "count", h.Count)
		b = output.Float(b, "sum", h.Sum, 3)
		b = output.Uint(b, "sum_ns", h.SumNs)
		b = append(output.Key(b, "buckets"), '[')
		for _, k := range h.Buckets {
			b = output.Obj(b)
			b = output.Uint(b, "low", k.Low)
			b = output.Uint(b, "high", k.High)
			b = output.Uint(b, "count", k.Count)
			b = output.Close(b, '}')
		}
		b = output.Close(b, ']')
		b = output.Close(b, '}')
	}
	b = output.Close(b, ']')
	return output.End(b)
}

// Write prints the report to w as text or, with asJSON, as one JSON line.
func (r *Report) Write(w *output.Writer, asJSON bool) error {
	if asJSON {
		w.Buf = r.JSON().AppendJSON(w.Buf[:0])
	} else {
		w.Buf = r.AppendText(w.Buf[:0])
	}
	_, err := w.Write(w.Buf)
	return err
}
