package wire

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParse checks the results-stream parser on arbitrary bytes (it must
// not panic, and a section it trusts must match its trailer), and that a
// section written by Writer after arbitrary noise comes back intact.
func FuzzParse(f *testing.F) {
	f.Add([]byte("firmware noise\r\n"), []byte("ok\tTestX\n--- PASS\n"), 0)
	f.Add([]byte{}, []byte("no newline at the end"), 1)
	f.Add([]byte("\x00\xff"), []byte("corematrix-init v1 end payload exit=0 bytes=1 sha256=00\n"), 2)
	f.Fuzz(func(t *testing.T, noise, data []byte, exit int) {
		// Arbitrary bytes alone.
		for _, r := range Parse(append(bytes.Clone(noise), data...)).Sections {
			require.False(t, r.Err == nil && r.Data == nil && r.InitError == "", "section %q trusted without data", r.Name)
		}
		// A well-formed stream after noise that holds no control line.
		if bytes.Contains(noise, []byte(Prefix)) {
			return
		}
		var b bytes.Buffer
		b.Write(noise)
		b.WriteByte('\n')
		w := NewWriter(&b)
		w.Hello("6.1.0-50-cloud-amd64")
		s, _ := w.Begin(SectionPayload)
		s.Write(data)
		s.End(exit, "")
		w.Done()
		st := Parse(b.Bytes())
		got := st.Section(SectionPayload)
		require.True(t, st.Hello, "stream %q: hello=%v done=%v section=%+v", b.Bytes(), st.Hello, st.Done, got)
		require.True(t, st.Done, "stream %q: hello=%v done=%v section=%+v", b.Bytes(), st.Hello, st.Done, got)
		require.NotNil(t, got, "stream %q: hello=%v done=%v section=%+v", b.Bytes(), st.Hello, st.Done, got)
		require.Nil(t, got.Err, "stream %q: hello=%v done=%v section=%+v", b.Bytes(), st.Hello, st.Done, got)
		require.Equal(t, data, got.Data, "section data %q exit %d, wrote %q exit %d", got.Data, got.Exit, data, exit)
		require.Equal(t, exit, got.Exit, "section data %q exit %d, wrote %q exit %d", got.Data, got.Exit, data, exit)
	})
}
