// Package output writes what tools print: event lines through a buffer that
// is flushed once per drained batch, JSON lines, and tables for summaries.
// A closed pipe (`tool | head`) is an ordinary way for a run to end, so it
// surfaces as ErrClosed and the frame exits 0 without a word.
package output

import (
	"bufio"
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrClosed reports that the reader of our output has gone away.
var ErrClosed = errors.New("output closed")

// Writer is a buffered writer that remembers its first error.
type Writer struct {
	f   *os.File
	bw  *bufio.Writer
	err error
	// Buf is scratch space for building one line; tools append to Buf[:0]
	// and pass it to Write, so a line costs no allocation.
	Buf []byte
}

// New wraps f. The buffer is large so that a burst of events becomes a few
// big writes.
func New(f *os.File) *Writer {
	return &Writer{f: f, bw: bufio.NewWriterSize(f, 64<<10), Buf: make([]byte, 0, 1024)}
}

// Write buffers b. Errors are sticky and reported by Flush as well.
func (w *Writer) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.Write(b)
	if err != nil {
		w.err = classify(err)
	}
	return n, w.err
}

// WriteString buffers s.
func (w *Writer) WriteString(s string) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.bw.WriteString(s)
	if err != nil {
		w.err = classify(err)
	}
	return n, w.err
}

// Flush writes out what is buffered.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.bw.Flush(); err != nil {
		w.err = classify(err)
	}
	return w.err
}

// classify maps a broken pipe to ErrClosed.
func classify(err error) error {
	if errors.Is(err, syscall.EPIPE) {
		return ErrClosed
	}
	return err
}

// IsPipe reports whether f is a pipe or FIFO.
func IsPipe(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeNamedPipe != 0
}

// WatchClosed calls closed once the reading end of the pipe f is gone, even
// when nothing is being written: `tool | head -3` should end as soon as head
// does, not at the next event. It does nothing when f is not a pipe.
func WatchClosed(f *os.File, closed func()) {
	if !IsPipe(f) {
		return
	}
	fd := int(f.Fd())
	go func() {
		for {
			// A pipe's writing end reports POLLERR when the reader closes.
			fds := []unix.PollFd{{Fd: int32(fd), Events: 0}}
			n, err := unix.Poll(fds, -1)
			if err == unix.EINTR {
				continue
			}
			if err != nil || (n > 0 && fds[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0) {
				closed()
				return
			}
		}
	}()
}

var _ io.Writer = (*Writer)(nil)
