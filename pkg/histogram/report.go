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

// JSONHist is one section in JSON: its keys are merged in by MarshalJSON.
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

// MarshalJSON puts the section keys beside count, sum and buckets.
func (h JSONHist) MarshalJSON() ([]byte, error) {
	b := output.Obj(nil)
	for _, k := range sortedKeys(h.Keys) {
		v, err := marshal(h.Keys[k])
		if err != nil {
			return nil, err
		}
		b = append(output.AppendJSONString(b, []byte(k)), ':')
		b = append(append(b, v...), ',')
	}
	b = output.Uint(b, "count", h.Count)
	b = output.Float(b, "sum", h.Sum, 3)
	b = output.Uint(b, "sum_ns", h.SumNs)
	buckets, err := marshal(h.Buckets)
	if err != nil {
		return nil, err
	}
	b = append(append(b, `"buckets":`...), buckets...)
	return append(b, '}'), nil
}

// Write prints the report to w as text or, with asJSON, as one JSON line.
func (r *Report) Write(w *output.Writer, asJSON bool) error {
	if asJSON {
		return output.Line(w, r.JSON())
	}
	w.Buf = r.AppendText(w.Buf[:0])
	_, err := w.Write(w.Buf)
	return err
}
