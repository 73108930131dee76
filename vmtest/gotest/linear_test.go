package gotest

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// ordinaryOutput is one test printing size bytes of ordinary lines.
func ordinaryOutput(size int) []byte {
	var b bytes.Buffer
	b.WriteString("\x16=== RUN   TestBig\n")
	for b.Len() < size {
		b.WriteString("    big_test.go:12: a line of ordinary test output\n")
	}
	b.WriteString("\x16--- FAIL: TestBig (1.00s)\n\x16FAIL\n")
	return b.Bytes()
}

// hostileOutput is one test printing size bytes of markers without a
// newline: every piece extends the same output event.
func hostileOutput(size int) []byte {
	var b bytes.Buffer
	b.WriteString("\x16=== RUN   TestBig\n")
	for b.Len() < size {
		b.WriteString("x\x16")
	}
	return b.Bytes()
}

// deepNames is a test whose name holds size/2 slashes.
func deepNames(size int) []byte {
	return []byte("\x16=== RUN   " + strings.Repeat("a/", size/2) + "b\n\x16FAIL\n")
}

func TestParseIsLinear(t *testing.T) {
	for name, in := range map[string][]byte{
		"ordinary": ordinaryOutput(8 << 20),
		"markers":  hostileOutput(8 << 20),
		"slashes":  deepNames(8 << 20),
	} {
		start := time.Now()
		r := Parse(in)
		took := time.Since(start)
		require.Len(t, r.Tests, 1, name)
		require.Equal(t, "fail", r.Tests[0].Status, name)
		r.Counts()
		// Quadratic concatenation took minutes for this input; the bound
		// leaves room for a loaded machine.
		require.Less(t, took, 20*time.Second, "%s: parsing %d bytes took %s", name, len(in), took)
		t.Logf("%s: 8 MiB parsed in %s", name, took)
	}
}

// BenchmarkParse shows the parse time growing linearly with one test's
// output: compare the MB/s of each size.
func BenchmarkParse(b *testing.B) {
	for _, kind := range []struct {
		name string
		gen  func(int) []byte
	}{{"ordinary", ordinaryOutput}, {"markers", hostileOutput}} {
		for _, mib := range []int{1, 2, 4, 8} {
			in := kind.gen(mib << 20)
			b.Run(fmt.Sprintf("%s/%dMiB", kind.name, mib), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					Parse(in)
				}
			})
		}
	}
}
