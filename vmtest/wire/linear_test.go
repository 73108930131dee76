package wire

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hostileTrailers is a payload section of about size bytes in which every
// line is followed by a trailer whose byte count is right and whose hash is
// wrong: each candidate must be hashed, and none matches.
func hostileTrailers(size int) []byte {
	var b bytes.Buffer
	b.WriteString(Prefix + "hello release=\"x\"\n")
	b.WriteString(Prefix + "begin payload\n")
	start := b.Len()
	for b.Len() < size {
		b.WriteString("ok line\n")
		n := b.Len() - start
		fmt.Fprintf(&b, "\n%send payload exit=0 bytes=%d sha256=%s\n", Prefix, n, strings.Repeat("0", 64))
	}
	return b.Bytes()
}

func TestParseHostileTrailersIsLinear(t *testing.T) {
	in := hostileTrailers(8 << 20)
	start := time.Now()
	st := Parse(in)
	took := time.Since(start)
	p := st.Section(SectionPayload)
	require.NotNil(t, p)
	var mismatch *MismatchError
	require.ErrorAs(t, p.Err, &mismatch, "no forged trailer may match")
	// Quadratic hashing took minutes for this input; linear takes well
	// under a second. The bound leaves room for a loaded machine.
	require.Less(t, took, 20*time.Second, "parsing %d bytes of candidate trailers took %s", len(in), took)
	t.Logf("8 MiB of candidate trailers parsed in %s", took)
}

// BenchmarkParseHostileTrailers shows the parse time growing linearly with
// the input: compare the MB/s of each size.
func BenchmarkParseHostileTrailers(b *testing.B) {
	for _, mib := range []int{1, 2, 4, 8} {
		in := hostileTrailers(mib << 20)
		b.Run(fmt.Sprintf("%dMiB", mib), func(b *testing.B) {
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				Parse(in)
			}
		})
	}
}
