// Package ringbuf streams typed events out of a BPF ring buffer.
//
// The BPF side (bpf/include/events.h) batches wakeups, so the reader wakes
// either when the kernel says a good amount is pending or on its own poll
// timer. Records are decoded by copying their bytes into the bpf2go-generated
// struct: no reflection, no allocation per event. After each drained batch
// the caller's flush hook runs, so output is prompt without a write per
// event. Failed reservations are counted by the BPF side in the per-CPU
// lost_events map; Lost sums them.
package ringbuf

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	cring "github.com/cilium/ebpf/ringbuf"
)

// DefaultPoll is how long the reader sleeps at most before looking at the
// ring on its own: the upper bound on how late an event is printed when the
// kernel did not wake us.
const DefaultPoll = 100 * time.Millisecond

// Reader reads events of type T (a bpf2go-generated struct).
type Reader[T any] struct {
	rd   *cring.Reader
	lost *ebpf.Map
	poll time.Duration
	// Events counts the records decoded so far.
	Events uint64
}

// Open starts reading the ring buffer map events. lost may be nil when the
// program keeps no loss counter.
func Open[T any](events, lost *ebpf.Map) (*Reader[T], error) {
	rd, err := cring.NewReader(events)
	if err != nil {
		return nil, fmt.Errorf("open ring buffer: %w", err)
	}
	return &Reader[T]{rd: rd, lost: lost, poll: DefaultPoll}, nil
}

// Close releases the reader.
func (r *Reader[T]) Close() error { return r.rd.Close() }

// Handlers are what Run calls.
type Handlers[T any] struct {
	// Event is called for each record; returning an error stops the run.
	Event func(*T) error
	// Batch is called whenever the ring has been drained (and on every
	// poll timeout): the moment to flush buffered output.
	Batch func() error
	// Detach is called once the context is done, before the final drain:
	// it should detach the programs so that the drain is complete.
	Detach func()
}

// Run reads until ctx is done or a handler fails. When ctx is done it calls
// Detach, reads every record still in the ring, calls Batch, and returns nil.
func (r *Reader[T]) Run(ctx context.Context, h Handlers[T]) error {
	stop := context.AfterFunc(ctx, func() { r.rd.Flush() })
	defer stop()

	var rec cring.Record
	var ev T
	deliver := func() error {
		if err := Decode(rec.RawSample, &ev); err != nil {
			return err
		}
		r.Events++
		return h.Event(&ev)
	}
	batch := func() error {
		if h.Batch != nil {
			return h.Batch()
		}
		return nil
	}

	for ctx.Err() == nil {
		r.rd.SetDeadline(time.Now().Add(r.poll))
		err := r.rd.ReadInto(&rec)
		switch {
		case err == nil:
			if err := deliver(); err != nil {
				return err
			}
			if rec.Remaining == 0 {
				if err := batch(); err != nil {
					return err
				}
			}
		case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, cring.ErrFlushed):
			if err := batch(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("read ring buffer: %w", err)
		}
	}

	if h.Detach != nil {
		h.Detach()
	}
	// Final drain: a deadline in the past makes the reader return what is
	// in the ring without waiting, then report the deadline.
	for {
		r.rd.SetDeadline(time.Now())
		err := r.rd.ReadInto(&rec)
		if err == nil {
			if err := deliver(); err != nil {
				return err
			}
			continue
		}
		if errors.Is(err, cring.ErrFlushed) {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return batch()
		}
		return fmt.Errorf("drain ring buffer: %w", err)
	}
}

// Decode copies a raw record into ev. T must be a bpf2go-generated struct:
// its Go layout is the C layout on the host, so a byte copy is a decode.
func Decode[T any](raw []byte, ev *T) error {
	size := int(unsafe.Sizeof(*ev))
	if len(raw) < size {
		return fmt.Errorf("ring buffer record of %d bytes, want %d: tool and BPF program disagree", len(raw), size)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(ev)), size), raw)
	return nil
}

// Lost returns how many events the BPF side could not reserve room for.
func (r *Reader[T]) Lost() (uint64, error) {
	return SumPerCPU(r.lost)
}

// SumPerCPU sums key 0 of a one-entry per-CPU array of u64 counters.
func SumPerCPU(m *ebpf.Map) (uint64, error) {
	if m == nil {
		return 0, nil
	}
	var vals []uint64
	if err := m.Lookup(uint32(0), &vals); err != nil {
		return 0, fmt.Errorf("read %s: %w", m, err)
	}
	var n uint64
	for _, v := range vals {
		n += v
	}
	return n, nil
}
