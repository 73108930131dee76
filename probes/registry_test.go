package probes

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// objectFacts is what the compiled object says about events, read from its
// BTF and ELF: the C side the Go tables must agree with.
type objectFacts struct {
	// kinds maps each enumerator of enum event_kind to its value.
	kinds map[string]uint64
	// coreBits maps each enumerator of enum core_bit to its value.
	coreBits map[string]uint64
	// union lists the members of union any_event.
	union []unionMember
	// programs maps each program name to its ELF section.
	programs map[string]string
}

type unionMember struct {
	name, cStruct string
	size          int
}

func readObjectFacts(t *testing.T, spec *ebpf.CollectionSpec) objectFacts {
	t.Helper()
	f := objectFacts{kinds: enumValues(t, spec, "event_kind"), coreBits: enumValues(t, spec, "core_bit"), programs: map[string]string{}}
	var u *btf.Union
	require.NoError(t, spec.Types.TypeByName("any_event", &u), "union any_event in the object's BTF")
	for _, m := range u.Members {
		s, ok := m.Type.(*btf.Struct)
		require.True(t, ok, "union any_event member %s is a %s, want a struct", m.Name, m.Type)
		size, err := btf.Sizeof(s)
		require.NoError(t, err)
		f.union = append(f.union, unionMember{m.Name, s.Name, size})
	}
	for name, p := range spec.Programs {
		f.programs[name] = p.SectionName
	}
	return f
}

func enumValues(t *testing.T, spec *ebpf.CollectionSpec, name string) map[string]uint64 {
	t.Helper()
	var e *btf.Enum
	require.NoError(t, spec.Types.TypeByName(name, &e), "enum %s in the object's BTF", name)
	out := map[string]uint64{}
	for _, v := range e.Values {
		out[v.Name] = v.Value
	}
	return out
}

// goTables is the Go side: the registry, the program table and the CO-RE
// branch catalog.
type goTables struct {
	kinds    []kindInfo
	programs []progDesc
	branches []Branch
}

// mismatches lists every disagreement between the object and the Go tables,
// sorted; none means adding or removing an event was done everywhere.
func mismatches(obj objectFacts, g goTables) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	// enum event_kind <-> registry.
	goKinds := map[uint64]kindInfo{}
	for _, e := range g.kinds {
		goKinds[uint64(e.kind)] = e
		if v, ok := obj.kinds["EVENT_"+strings.ToUpper(e.name)]; !ok {
			add("registry kind %q (%d): no EVENT_%s in enum event_kind (bpf/events.h)", e.name, e.kind, strings.ToUpper(e.name))
		} else if v != uint64(e.kind) {
			add("registry kind %q is %d, enum event_kind has EVENT_%s = %d", e.name, e.kind, strings.ToUpper(e.name), v)
		}
	}
	for name, v := range obj.kinds {
		if _, ok := goKinds[v]; !ok {
			add("enum event_kind %s = %d: no entry in the Go registry (probes/registry.go)", name, v)
		}
	}

	// union any_event <-> registry.
	members := map[string]unionMember{}
	for _, m := range obj.union {
		members[m.name] = m
		if !slices.ContainsFunc(g.kinds, func(e kindInfo) bool { return e.name == m.name }) {
			add("union any_event member %s (struct %s): no registry kind named %q", m.name, m.cStruct, m.name)
		}
	}
	for _, e := range g.kinds {
		m, ok := members[e.name]
		switch {
		case !ok:
			add("registry kind %q: union any_event (bpf/tracer.c) has no member %s, so the perf scratch buffer may be too small for struct %s", e.name, e.name, e.cStruct)
		case m.cStruct != e.cStruct:
			add("registry kind %q: union member %s is struct %s, registry says struct %s", e.name, e.name, m.cStruct, e.cStruct)
		case m.size != e.size:
			add("registry kind %q: sizeof(struct %s) = %d in the object, registry size is %d", e.name, e.cStruct, m.size, e.size)
		}
	}

	// object programs <-> programTable.
	table := map[string]progDesc{}
	for _, d := range g.programs {
		table[d.name] = d
		sec, ok := obj.programs[d.name]
		if !ok {
			add("program table row %s: no such program in the object", d.name)
			continue
		}
		if want := d.attach + "/" + d.target; sec != want {
			add("program %s: object section %q, program table says %q", d.name, sec, want)
		}
		if !slices.ContainsFunc(g.kinds, func(e kindInfo) bool { return e.kind == d.kind }) {
			add("program table row %s: kind %d is not in the registry", d.name, d.kind)
		}
	}
	for name, sec := range obj.programs {
		if _, ok := table[name]; !ok {
			add("object program %s (%s): not in programTable (probes/tracer.go), so it is never loaded or attached", name, sec)
		}
	}
	for _, e := range g.kinds {
		if !slices.ContainsFunc(g.programs, func(d progDesc) bool { return d.kind == e.kind }) {
			add("registry kind %q: no program in programTable produces it", e.name)
		}
	}

	// enum core_bit <-> branch catalog.
	bits := map[uint64]bool{}
	for name, v := range obj.coreBits {
		bits[v] = true
		if !slices.ContainsFunc(g.branches, func(b Branch) bool { return uint64(b.Bit) == v }) {
			add("enum core_bit %s = %#x: no Branch in the catalog (probes/branches.go)", name, v)
		}
	}
	for _, b := range g.branches {
		if !bits[uint64(b.Bit)] {
			add("branch %s/%s: bit %#x is not in enum core_bit (bpf/events.h)", b.Group, b.Name, uint32(b.Bit))
		}
	}
	sort.Strings(out)
	return out
}

func realTables() goTables {
	return goTables{kinds: registry, programs: programTable, branches: branches}
}

// TestRegistryMatchesObject is the check that makes adding an event safe: the
// compiled object and the Go tables must describe the same events, programs
// and CO-RE branches.
func TestRegistryMatchesObject(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)
	obj := readObjectFacts(t, spec)
	assert.Empty(t, mismatches(obj, realTables()), "object %s and the Go tables disagree; see the checklist in doc.go", ObjectName)
	assert.Len(t, obj.kinds, len(registry), "enum event_kind")
	assert.Len(t, obj.programs, len(programTable), "programs")
}

// TestRegistryMismatchesCaught shows that each kind of disagreement is
// reported, whichever side forgot.
func TestRegistryMismatchesCaught(t *testing.T) {
	spec, err := Spec()
	require.NoError(t, err)
	// A made-up kind that no real event will collide with: not the
	// checklist's example (unlink), numbered past every registry kind.
	fake := Kind(len(registry) + 100)
	tests := []struct {
		name   string
		mutate func(o *objectFacts, g *goTables)
		want   string
	}{
		{"C enum gains a kind", func(o *objectFacts, g *goTables) { o.kinds["EVENT_CM_FAKE"] = uint64(fake) },
			fmt.Sprintf("enum event_kind EVENT_CM_FAKE = %d: no entry in the Go registry", fake)},
		{"Go registry gains a kind", func(o *objectFacts, g *goTables) {
			g.kinds = append(slices.Clone(g.kinds), kindInfo{kind: fake, name: "cm_fake", cStruct: "cm_fake_event", size: 48})
		}, fmt.Sprintf(`registry kind "cm_fake" (%d): no EVENT_CM_FAKE in enum event_kind`, fake)},
		{"C enum renumbered", func(o *objectFacts, g *goTables) { o.kinds["EVENT_OPEN"] = 7 },
			`registry kind "open" is 3, enum event_kind has EVENT_OPEN = 7`},
		{"union lacks a member", func(o *objectFacts, g *goTables) {
			o.union = slices.DeleteFunc(slices.Clone(o.union), func(m unionMember) bool { return m.name == "sched" })
		}, `registry kind "sched": union any_event (bpf/tracer.c) has no member sched`},
		{"union member not in registry", func(o *objectFacts, g *goTables) {
			o.union = append(slices.Clone(o.union), unionMember{"cm_fake", "cm_fake_event", 48})
		}, `union any_event member cm_fake (struct cm_fake_event): no registry kind named "cm_fake"`},
		{"struct grew", func(o *objectFacts, g *goTables) {
			o.union = slices.Clone(o.union)
			o.union[1].size += 8
		}, `sizeof(struct exit_event) = 56 in the object, registry size is 48`},
		{"program missing from table", func(o *objectFacts, g *goTables) {
			o.programs["trace_cm_fake"] = "kprobe/cm_fake_target"
		}, "object program trace_cm_fake (kprobe/cm_fake_target): not in programTable"},
		{"table row without program", func(o *objectFacts, g *goTables) { delete(o.programs, "trace_open") },
			"program table row trace_open: no such program in the object"},
		{"section differs from table", func(o *objectFacts, g *goTables) { o.programs["trace_open"] = "kprobe/do_filp_open" },
			`program trace_open: object section "kprobe/do_filp_open", program table says "kprobe/vfs_open"`},
		{"kind without program", func(o *objectFacts, g *goTables) {
			g.programs = slices.DeleteFunc(slices.Clone(g.programs), func(d progDesc) bool { return d.kind == KindExit })
			delete(o.programs, "trace_exit")
		}, `registry kind "exit": no program in programTable produces it`},
		{"C core bit without branch", func(o *objectFacts, g *goTables) { o.coreBits["CORE_INODE_NEW"] = 1 << 6 },
			"enum core_bit CORE_INODE_NEW = 0x40: no Branch in the catalog"},
		{"branch without C bit", func(o *objectFacts, g *goTables) { delete(o.coreBits, "CORE_STATE_LONG") },
			"branch task_state/state: bit 0x8 is not in enum core_bit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := readObjectFacts(t, spec)
			g := realTables()
			tt.mutate(&obj, &g)
			got := mismatches(obj, g)
			require.NotEmpty(t, got, "mismatch not reported")
			assert.Contains(t, strings.Join(got, "\n"), tt.want)
		})
	}
}

// Every kind in the registry has a decode round trip (decode_test.go), so a
// new event cannot ship with a decoder nothing exercised.
func TestRoundTripsCoverRegistry(t *testing.T) {
	covered := map[Kind]bool{}
	for _, rt := range roundTrips(t) {
		covered[rt.want.Hdr().Kind] = true
	}
	for _, e := range registry {
		assert.True(t, covered[e.kind], "kind %q has no roundTrips row in decode_test.go", e.name)
	}
}
