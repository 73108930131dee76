package wire

import (
	"bytes"
	"testing"
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
			if r.Err == nil && r.Data == nil && r.InitError == "" {
				t.Fatalf("section %q trusted without data", r.Name)
			}
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
		if !st.Hello || !st.Done || got == nil || got.Err != nil {
			t.Fatalf("stream %q: hello=%v done=%v section=%+v", b.Bytes(), st.Hello, st.Done, got)
		}
		if !bytes.Equal(got.Data, data) || got.Exit != exit {
			t.Fatalf("section data %q exit %d, wrote %q exit %d", got.Data, got.Exit, data, exit)
		}
	})
}
