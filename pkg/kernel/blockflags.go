package kernel

import (
	"strings"

	"github.com/cilium/ebpf/btf"
)

// BlockFlagNames names a request's cmd_flags (operation and flag bits) the
// way libbpf-tools' biolatency -F prints them: set flags in a fixed order,
// then the operation, joined by "-" ("Sync-Write", "ReadAhead-Read").
//
// The numbers behind the names move between kernel versions (the request
// operations were renumbered in 5.x), so they are read from the running
// kernel's BTF (enum req_op, enum req_flag_bits), with the 6.x values as a
// fallback where BTF is missing. libbpf-tools compiles its tables in and
// prints wrong names on other kernels.
type BlockFlagNames struct {
	ops   map[uint32]string
	flags []blockFlag // in print order
}

type blockFlag struct {
	bit  uint32
	name string
}

const reqOpMask = 0xff // REQ_OP_BITS = 8

// printed names of enum req_op values (without REQ_OP_), libbpf-tools style.
var opNames = map[string]string{
	"READ": "Read", "WRITE": "Write", "FLUSH": "Flush", "DISCARD": "Discard",
	"SECURE_ERASE": "SecureErase", "ZONE_RESET": "ZoneReset", "WRITE_SAME": "WriteSame",
	"ZONE_RESET_ALL": "ZoneResetAll", "WRITE_ZEROES": "WriteZeroes", "ZONE_OPEN": "ZoneOpen",
	"ZONE_CLOSE": "ZoneClose", "ZONE_FINISH": "ZoneFinish", "SCSI_IN": "SCSIIn",
	"SCSI_OUT": "SCSIOut", "DRV_IN": "DrvIn", "DRV_OUT": "DrvOut", "ZONE_APPEND": "ZoneAppend",
}

// flag order as libbpf-tools prints them, with enum req_flag_bits names.
var flagOrder = []struct{ enum, name string }{
	{"__REQ_NOWAIT", "NoWait"}, {"__REQ_BACKGROUND", "Background"}, {"__REQ_RAHEAD", "ReadAhead"},
	{"__REQ_PREFLUSH", "PreFlush"}, {"__REQ_FUA", "FUA"}, {"__REQ_INTEGRITY", "Integrity"},
	{"__REQ_IDLE", "Idle"}, {"__REQ_NOMERGE", "NoMerge"}, {"__REQ_PRIO", "Priority"},
	{"__REQ_META", "Metadata"}, {"__REQ_SYNC", "Sync"},
}

// fallback values: Linux 6.x.
var (
	fallbackOps = map[string]uint32{
		"READ": 0, "WRITE": 1, "FLUSH": 2, "DISCARD": 3, "SECURE_ERASE": 5, "ZONE_APPEND": 7,
		"WRITE_ZEROES": 9, "ZONE_OPEN": 11, "ZONE_CLOSE": 13, "ZONE_FINISH": 15,
		"ZONE_RESET": 17, "ZONE_RESET_ALL": 19, "DRV_IN": 34, "DRV_OUT": 35,
	}
	fallbackFlags = map[string]uint32{
		"__REQ_SYNC": 11, "__REQ_META": 12, "__REQ_PRIO": 13, "__REQ_NOMERGE": 14,
		"__REQ_IDLE": 15, "__REQ_INTEGRITY": 16, "__REQ_FUA": 17, "__REQ_PREFLUSH": 18,
		"__REQ_RAHEAD": 19, "__REQ_BACKGROUND": 20, "__REQ_NOWAIT": 21,
	}
)

// NewBlockFlagNames builds the tables from kernel BTF (spec may be nil: the
// fallback tables are used).
func NewBlockFlagNames(spec *btf.Spec) *BlockFlagNames {
	ops, flags := fallbackOps, fallbackFlags
	if spec != nil {
		if v := enumValues(spec, "req_op", "REQ_OP_"); len(v) > 0 {
			ops = v
		}
		if v := enumValues(spec, "req_flag_bits", ""); len(v) > 0 {
			flags = v
		}
	}
	n := &BlockFlagNames{ops: map[uint32]string{}}
	for enum, v := range ops {
		if name, ok := opNames[enum]; ok {
			n.ops[v] = name
		}
	}
	for _, f := range flagOrder {
		if bit, ok := flags[f.enum]; ok {
			n.flags = append(n.flags, blockFlag{bit, f.name})
		}
	}
	return n
}

func enumValues(spec *btf.Spec, name, prefix string) map[string]uint32 {
	var e *btf.Enum
	if err := spec.TypeByName(name, &e); err != nil {
		return nil
	}
	out := map[string]uint32{}
	for _, v := range e.Values {
		out[strings.TrimPrefix(v.Name, prefix)] = uint32(v.Value)
	}
	return out
}

// Name returns the printed name of cmd_flags.
func (n *BlockFlagNames) Name(cmdFlags uint32) string {
	var b strings.Builder
	for _, f := range n.flags {
		if cmdFlags&(1<<f.bit) != 0 {
			b.WriteString(f.name)
			b.WriteByte('-')
		}
	}
	if op, ok := n.ops[cmdFlags&reqOpMask]; ok {
		b.WriteString(op)
	} else {
		b.WriteString("Unknown")
	}
	return b.String()
}
