// Package bpfmap holds what tools do with the kernel maps they aggregate
// into: read them out per interval.
package bpfmap

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
)

// Entry is one key and value taken from a map.
type Entry[K, V any] struct {
	Key   K
	Value V
}

// Drain reads every entry of m (a hash map) and deletes each one it read,
// so the next interval starts from zero. Keys are listed first and then
// taken one by one with lookup-and-delete: what the kernel adds between the
// two steps lands in this interval or the next, never nowhere, as it could
// with a bulk read followed by a bulk delete.
func Drain[K, V any](m *ebpf.Map) ([]Entry[K, V], error) {
	var keys []K
	var key K
	var val V
	it := m.Iterate()
	for it.Next(&key, &val) {
		keys = append(keys, key)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("read map %s: %w", m, err)
	}
	out := make([]Entry[K, V], 0, len(keys))
	for _, k := range keys {
		var v V
		if err := m.LookupAndDelete(&k, &v); err != nil {
			if errors.Is(err, ebpf.ErrKeyNotExist) {
				continue
			}
			// Hash maps before 5.14 have no lookup-and-delete: read,
			// then delete, accepting the small window in between.
			if err := m.Lookup(&k, &v); err != nil {
				continue
			}
			m.Delete(&k)
		}
		out = append(out, Entry[K, V]{k, v})
	}
	return out, nil
}
