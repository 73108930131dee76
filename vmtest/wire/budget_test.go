package wire

import (
	"bytes"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// manyCompressed is the stream of the issue: a payload, then n kernel log
// sections, each 64 MiB of zeros gzip-compressed (about 65 KB each).
func manyCompressed(t testing.TB, n int, name string) []byte {
	var b bytes.Buffer
	w := NewWriter(&b)
	require.NoError(t, w.Hello("6.1"))
	s, err := w.BeginStreams(SectionPayload)
	require.NoError(t, err)
	require.NoError(t, s.WriteFrame(TagStdout, []byte("ok\n")))
	require.NoError(t, s.End(0, ""))
	zeros := make([]byte, MaxDecoded)
	for range n {
		s, err := w.BeginCompressed(name)
		require.NoError(t, err)
		s.Write(zeros)
		require.NoError(t, s.End(0, ""))
	}
	require.NoError(t, w.Done())
	return b.Bytes()
}

// peakHeap runs f and returns the largest live heap seen while it ran
// (sampled every millisecond) above the heap before it.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

// TestManyCompressedSectionsBounded checks that a stream of a few hundred
// KB cannot make the host hold gigabytes: only the first kernel log
// section is decompressed (a second is refused), other sections are never
// inflated, and what is decompressed counts against the budget.
func TestManyCompressedSectionsBounded(t *testing.T) {
	in := manyCompressed(t, 6, SectionKmsg)
	var st *Stream
	peak := peakHeap(func() {
		// The runner parses the stream once per boot.
		st = ParseLimit(in, DefaultLimit)
	})
	t.Logf("stream of %d bytes with 6 gzip sections of 64 MiB each: peak heap %d MiB", len(in), peak>>20)
	var kmsg []*Received
	for _, r := range st.Sections {
		if r.Name == SectionKmsg {
			kmsg = append(kmsg, r)
		}
	}
	require.Len(t, kmsg, 2, "parsing goes on after a duplicate")
	require.NoError(t, kmsg[0].Err)
	require.Len(t, kmsg[0].Data, MaxDecoded)
	require.ErrorIs(t, kmsg[1].Err, ErrDuplicate)
	require.Nil(t, kmsg[1].Data)

	// Sections of other names are never decompressed.
	st = Parse(manyCompressed(t, 6, "junk"))
	for _, r := range st.Sections[1:] {
		if r.Name == "junk" {
			require.Less(t, len(r.Data), 1<<20, "a junk section was inflated")
		}
	}

	// A budget smaller than the kernel log refuses it.
	st = ParseLimit(manyCompressed(t, 1, SectionKmsg), 16<<20)
	require.NotNil(t, st.OverBudget)
	require.Equal(t, "guest output exceeded 16 MiB", st.OverBudget.Error())
	require.ErrorIs(t, st.Section(SectionKmsg).Err, ErrOverBudget)

	// A stream longer than the budget is cut there.
	st = ParseLimit(bytes.Repeat([]byte("x"), 2<<20), 1<<20)
	require.NotNil(t, st.OverBudget)
}
