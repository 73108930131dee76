package probes

import "github.com/cilium/ebpf"

// MapFallbacks names, per map of spec, the type Load swaps in when the
// kernel lacks the map's own type: for an object that follows the tracer's
// output convention (SetOutput works on it: a map "events" and a constant
// "use_ringbuf"), a ring buffer "events" becomes a perf event array below
// 5.8. Offline analysis (vmtest core-report) counts this fallback as a guard.
// Nil for any other object.
func MapFallbacks(spec *ebpf.CollectionSpec) map[string]ebpf.MapType {
	m := spec.Maps[tracerMapEvents]
	if m == nil || m.Type != ebpf.RingBuf || spec.Variables[tracerVarUseRingbuf] == nil {
		return nil
	}
	return map[string]ebpf.MapType{tracerMapEvents: ebpf.PerfEventArray}
}
