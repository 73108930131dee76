package probes

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func comm(s string) (c [16]int8) {
	for i := 0; i < len(s) && i < 15; i++ {
		c[i] = int8(s[i])
	}
	return c
}

func name(s string) (n [256]int8) {
	for i := 0; i < len(s) && i < 255; i++ {
		n[i] = int8(s[i])
	}
	return n
}

func hdr(kind Kind, core Core) tracerEventHeader {
	return tracerEventHeader{Kind: tracerEventKind(kind), Core: tracerCoreBit(core), Ktime: 123456789, Pid: 4242, Tgid: 4240, Comm: comm("worker")}
}

// encode serialises a bpf2go-generated record type the way the kernel lays it
// out (binary.Write of the generated struct is the reference encoding).
func encode(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, binary.Write(&b, binary.LittleEndian, v))
	return b.Bytes()
}

func wantHeader(kind Kind, core Core) Header {
	var c Comm
	copy(c[:], "worker")
	return Header{Kind: kind, Core: core, Ktime: 123456789, PID: 4242, TGID: 4240, Comm: c}
}

func mkName(s string) (n Name) {
	copy(n[:], s)
	return n
}

func mkComm(s string) (c Comm) {
	copy(c[:], s)
	return c
}

var v6src = netip.MustParseAddr("fd00::1")
var v6dst = netip.MustParseAddr("2001:db8::42")

// roundTrips lists one record of every kind: the raw form produced through
// the bpf2go types, and the event Decode must produce.
func roundTrips(t testing.TB) []struct {
	name string
	raw  []byte
	want Event
} {
	return []struct {
		name string
		raw  []byte
		want Event
	}{
		{"exec", encode(t, tracerExecEvent{
			Hdr: hdr(KindExec, CoreStartBoottime|CoreRingbuf), Ppid: 1, Uid: 1000, Gid: 100, Depth: 3,
			StartNs: 987654321, Flags: 1, ParentComm: comm("bash"), Filename: name("/usr/bin/true"),
		}), &Exec{
			Header: wantHeader(KindExec, CoreStartBoottime|CoreRingbuf), PPID: 1, UID: 1000, GID: 100, Depth: 3,
			DepthTruncated: true, StartNs: 987654321, ParentComm: mkComm("bash"), Filename: mkName("/usr/bin/true"),
		}},
		{"exit", encode(t, tracerExitEvent{Hdr: hdr(KindExit, CorePerfbuf), Code: 3 << 8}),
			&Exit{Header: wantHeader(KindExit, CorePerfbuf), Code: 3 << 8}},
		{"exit negative", encode(t, tracerExitEvent{Hdr: hdr(KindExit, CorePerfbuf), Code: -1}),
			&Exit{Header: wantHeader(KindExit, CorePerfbuf), Code: -1}},
		{"open", encode(t, tracerOpenEvent{Hdr: hdr(KindOpen, CoreRingbuf), Ino: 1 << 40, Name: name("passwd")}),
			&Open{Header: wantHeader(KindOpen, CoreRingbuf), Inode: 1 << 40, Name: mkName("passwd")}},
		{"connect4", encode(t, tracerConnectEvent{
			Hdr: hdr(KindConnect, CoreRingbuf), Family: AFInet, Sport: 40000, Dport: 8080, Ret: -111,
			Saddr: [16]uint8{127, 0, 0, 1}, Daddr: [16]uint8{10, 1, 2, 3},
		}), &Connect{
			Header: wantHeader(KindConnect, CoreRingbuf), Family: AFInet, Ret: -111,
			Src: netip.MustParseAddrPort("127.0.0.1:40000"), Dst: netip.MustParseAddrPort("10.1.2.3:8080"),
		}},
		{"connect6", encode(t, tracerConnectEvent{
			Hdr: hdr(KindConnect, CorePerfbuf), Family: AFInet6, Sport: 1, Dport: 443,
			Saddr: v6src.As16(), Daddr: v6dst.As16(),
		}), &Connect{
			Header: wantHeader(KindConnect, CorePerfbuf), Family: AFInet6,
			Src: netip.AddrPortFrom(v6src, 1), Dst: netip.AddrPortFrom(v6dst, 443),
		}},
		{"sched", encode(t, tracerSchedEvent{Hdr: hdr(KindSched, CoreStateLong|CorePerfbuf), State: 0x2402, Report: 0x2, Preempt: 0}),
			&SchedState{Header: wantHeader(KindSched, CoreStateLong|CorePerfbuf), State: 0x2402, Report: 0x2}},
		{"sched preempt", encode(t, tracerSchedEvent{Hdr: hdr(KindSched, CoreStateU32|CoreRingbuf), State: 0, Report: 0, Preempt: 1}),
			&SchedState{Header: wantHeader(KindSched, CoreStateU32|CoreRingbuf), Preempt: true}},
	}
}

func TestDecodeRoundTrip(t *testing.T) {
	for _, tt := range roundTrips(t) {
		t.Run(tt.name, func(t *testing.T) {
			var r Record
			require.NoError(t, Decode(tt.raw, &r))
			assert.Equal(t, tt.want.Hdr().Kind, r.Kind)
			assert.Equal(t, tt.want, r.Event())
			assert.Equal(t, tt.want, r.Clone())

			// Perf samples carry up to 7 bytes of padding.
			padded := append(append([]byte(nil), tt.raw...), 0, 0, 0, 0)
			got, err := DecodeEvent(padded)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)

			// JSON is readable and round-trips.
			b, err := json.Marshal(got)
			require.NoError(t, err)
			back := reflect.New(reflect.TypeOf(tt.want).Elem()).Interface()
			require.NoError(t, json.Unmarshal(b, back), "%s", b)
			assert.Equal(t, tt.want, back, "json %s", b)
			assert.NotContains(t, string(b), `\u0000`, "json carries NUL padding: %s", b)

			s := got.String()
			assert.True(t, strings.HasPrefix(s, tt.want.Hdr().Kind.String()), "String() = %q", s)
			assert.Contains(t, s, `comm="worker"`)
		})
	}
}

func TestDecodeTruncated(t *testing.T) {
	for _, tt := range roundTrips(t) {
		t.Run(tt.name, func(t *testing.T) {
			for n := 0; n < len(tt.raw); n++ {
				var r Record
				err := Decode(tt.raw[:n], &r)
				require.ErrorIs(t, err, ErrTruncated, "Decode(%d of %d bytes) = %v, want ErrTruncated", n, len(tt.raw), err)
				assert.Equal(t, Kind(0), r.Kind, "record touched on error")
			}
		})
	}
}

func TestDecodeUnknownKind(t *testing.T) {
	for _, kind := range []uint32{0, 6, 0xffffffff} {
		raw := make([]byte, execSize)
		binary.LittleEndian.PutUint32(raw, kind)
		_, err := DecodeEvent(raw)
		assert.ErrorIs(t, err, ErrUnknownKind, "kind %d", kind)
	}
}

func TestDecodeNoAlloc(t *testing.T) {
	var r Record
	for _, tt := range roundTrips(t) {
		raw := tt.raw
		allocs := testing.AllocsPerRun(100, func() {
			require.NoError(t, Decode(raw, &r))
		})
		assert.Zero(t, allocs, "%s: allocs per Decode", tt.name)
	}
}

// The layout constants of decode.go must match the C structs, as bpf2go
// rendered them.
func TestLayout(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want int
	}{
		{"header", tracerEventHeader{}, headerSize},
		{"exec", tracerExecEvent{}, execSize},
		{"exit", tracerExitEvent{}, exitSize},
		{"open", tracerOpenEvent{}, openSize},
		{"connect", tracerConnectEvent{}, connectSize},
		{"sched", tracerSchedEvent{}, schedSize},
	}
	var names []string
	for _, tt := range tests {
		assert.Equal(t, tt.want, binary.Size(tt.v), "sizeof %s", tt.name)
		assert.Equal(t, tt.want, int(reflect.TypeOf(tt.v).Size()), "Go size of %s (padding?)", tt.name)
		if tt.name != "header" {
			names = append(names, tt.name)
		}
	}
	assert.ElementsMatch(t, registryNames(), names, "a TestLayout row per registry kind (see the checklist in doc.go)")
}

var benchSink uint64

// BenchmarkDecode compares Decode with the binary.Read decoding of the
// tutorial, on the largest record (exec).
func BenchmarkDecode(b *testing.B) {
	raw := roundTrips(b)[0].raw
	b.Run("Decode", func(b *testing.B) {
		var r Record
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			require.NoError(b, Decode(raw, &r))
			benchSink += uint64(r.Exec.PPID)
		}
	})
	b.Run("BinaryRead", func(b *testing.B) {
		var ev tracerExecEvent
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			require.NoError(b, binary.Read(bytes.NewReader(raw), binary.LittleEndian, &ev))
			benchSink += uint64(ev.Ppid)
		}
	})
}
