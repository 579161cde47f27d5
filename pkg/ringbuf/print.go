package ringbuf

import (
	"context"

	"github.com/bpftk/bpftk/pkg/output"
)

// Print is an event tool's output loop: each event is formatted by format
// into out's scratch buffer and written, out is flushed whenever the ring
// has been drained, and when ctx ends the programs are detached (detach) and
// what is left in the ring is printed.
func (r *Reader[T]) Print(ctx context.Context, out *output.Writer, detach func(), format func([]byte, *T) []byte) error {
	return r.Run(ctx, Handlers[T]{
		Event: func(e *T) error {
			out.Buf = format(out.Buf[:0], e)
			_, err := out.Write(out.Buf)
			return err
		},
		Batch:  out.Flush,
		Detach: detach,
	})
}

// Counter is a tool's own loss counter for the end-of-run report.
type Counter struct {
	JSON string // field name in the JSON summary
	Text string // warning printed when N > 0, with one %d for N
	N    uint64
}

// Missed is the counter of probe runs the kernel skipped
// (loader.Collection.Missed), for Report.
func Missed(n uint64) Counter {
	return Counter{
		JSON: "missed_events",
		Text: "missed %d events: the kernel skipped the probe while another BPF program ran on that CPU",
		N:    n,
	}
}

// Report prints the end-of-run account: in JSON mode a last line
// {"summary":{"events":N,"lost_events":M,...}}, in text mode a warning on
// stderr (through warnf) for each loss that happened. Losses are never
// silent.
func (r *Reader[T]) Report(out *output.Writer, asJSON bool, warnf func(string, ...any), extra ...Counter) error {
	lost, err := r.Lost()
	if err != nil {
		return err
	}
	if asJSON {
		b := append(out.Buf[:0], `{"summary":{`...)
		b = output.Uint(b, "events", r.Events)
		b = output.Uint(b, "lost_events", lost)
		for _, c := range extra {
			b = output.Uint(b, c.JSON, c.N)
		}
		b = output.End(b)                   // ...}\n
		b = append(b[:len(b)-1], '}', '\n') // close "summary" too
		out.Buf = b
		_, err := out.Write(b)
		return err
	}
	if err := out.Flush(); err != nil {
		return err
	}
	if lost > 0 {
		warnf("lost %d events: the ring buffer was full (the reader could not keep up)", lost)
	}
	for _, c := range extra {
		if c.N > 0 {
			warnf(c.Text, c.N)
		}
	}
	return nil
}
