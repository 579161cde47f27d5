package histogram

// KernelSlots is HIST_SLOTS in bpf/include/histogram.h.
const KernelSlots = 32

// KernelHist is the layout of struct hist in bpf/include/histogram.h: the
// value type of every histogram map; read it with bpfmap.Drain.
type KernelHist struct {
	Slots [KernelSlots]uint64
	Count uint64
	SumNs uint64
}

// Section turns a kernel histogram into a report section.
func (k *KernelHist) Section(prefix string, keys map[string]any) Hist {
	return Hist{Prefix: prefix, Keys: keys, Slots: k.Slots[:], SumNs: k.SumNs, Count: k.Count}
}
