package probes

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Core is the bitmask every event carries: one bit per CO-RE branch its
// program took on the running kernel. Values equal enum core_bit in
// bpf/events.h.
type Core uint32

// CO-RE branch bits.
const (
	// CoreStartBoottime: task_struct.start_boottime was read. Kernel 5.5+.
	CoreStartBoottime = Core(tracerCoreBitCORE_START_BOOTTIME)
	// CoreRealStartTime: task_struct.real_start_time was read (flavor
	// task_struct___pre55). Kernels before 5.5.
	CoreRealStartTime = Core(tracerCoreBitCORE_REAL_START_TIME)
	// CoreStateU32: task_struct.__state (unsigned int) was read. Kernel 5.14+.
	CoreStateU32 = Core(tracerCoreBitCORE_STATE_U32)
	// CoreStateLong: task_struct.state (long) was read (flavor
	// task_struct___pre514). Kernels before 5.14.
	CoreStateLong = Core(tracerCoreBitCORE_STATE_LONG)
	// CoreRingbuf: the event came through the BPF ring buffer. Kernel 5.8+.
	CoreRingbuf = Core(tracerCoreBitCORE_RINGBUF)
	// CorePerfbuf: the event came through the perf event array (kernels
	// before 5.8, or perf forced with Options.ForcePerf).
	CorePerfbuf = Core(tracerCoreBitCORE_PERFBUF)
)

// Branch describes one side of a CO-RE decision.
type Branch struct {
	// Bit is the Core bit an event sets when its program took this branch.
	Bit Core `json:"bit"`
	// Group names the decision: "start_time", "task_state" or "output".
	Group string `json:"group"`
	// Name names the side taken: the kernel field or map type used.
	Name string `json:"name"`
	// Needs says which kernels take it, for coverage reports.
	Needs string `json:"needs"`
	// Kinds are the events whose programs evaluate this decision.
	Kinds []Kind `json:"kinds"`
}

var branches = []Branch{
	{CoreStartBoottime, "start_time", "start_boottime", "kernel >= 5.5", []Kind{KindExec}},
	{CoreRealStartTime, "start_time", "real_start_time", "kernel < 5.5", []Kind{KindExec}},
	{CoreStateU32, "task_state", "__state", "kernel >= 5.14", []Kind{KindSched}},
	{CoreStateLong, "task_state", "state", "kernel < 5.14", []Kind{KindSched}},
	{CoreRingbuf, "output", "ringbuf", "kernel >= 5.8 and perf not forced", AllKinds},
	{CorePerfbuf, "output", "perf", "kernel < 5.8, or perf forced", AllKinds},
}

// Branches returns the catalog of CO-RE branches, one entry per Core bit, in
// bit order. The caller may modify the returned slice.
func Branches() []Branch {
	out := make([]Branch, len(branches))
	for i, b := range branches {
		b.Kinds = append([]Kind(nil), b.Kinds...)
		out[i] = b
	}
	return out
}

// Names returns the branch names of the bits set in c, in bit order. Unknown
// bits are named "bit<N>".
func (c Core) Names() []string {
	var names []string
	for i := range 32 {
		bit := Core(1) << i
		if c&bit == 0 {
			continue
		}
		name := ""
		for _, b := range branches {
			if b.Bit == bit {
				name = b.Name
			}
		}
		if name == "" {
			name = "bit" + strconv.Itoa(i)
		}
		names = append(names, name)
	}
	return names
}

// Has reports whether every bit of b is set in c.
func (c Core) Has(b Core) bool { return c&b == b }

// String joins Names with "|"; "none" when no bit is set.
func (c Core) String() string {
	if c == 0 {
		return "none"
	}
	return strings.Join(c.Names(), "|")
}

// MarshalJSON encodes the mask as the list of branch names.
func (c Core) MarshalJSON() ([]byte, error) {
	names := c.Names()
	if names == nil {
		names = []string{}
	}
	return json.Marshal(names)
}

// UnmarshalJSON decodes a list of branch names (or a plain number).
func (c *Core) UnmarshalJSON(b []byte) error {
	var n uint32
	if err := json.Unmarshal(b, &n); err == nil {
		*c = Core(n)
		return nil
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return err
	}
	var v Core
outer:
	for _, name := range names {
		for _, br := range branches {
			if br.Name == name {
				v |= br.Bit
				continue outer
			}
		}
		rest, ok := strings.CutPrefix(name, "bit")
		bit, err := strconv.Atoi(rest)
		if !ok || err != nil || bit < 0 || bit > 31 {
			return fmt.Errorf("unknown CO-RE branch %q", name)
		}
		v |= Core(1) << bit
	}
	*c = v
	return nil
}
