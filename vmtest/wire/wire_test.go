package wire

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// stream writes what the guest init writes for a payload that printed out.
func stream(t *testing.T, out string, exit int) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b)
	require.NoError(t, w.Hello("6.1.0-test"))
	s, err := w.Begin(SectionPayload)
	require.NoError(t, err)
	s.Write([]byte(out))
	require.NoError(t, s.End(exit, ""))
	k, err := w.BeginCompressed(SectionKmsg)
	require.NoError(t, err)
	k.Write([]byte("<6>[    0.000000] Linux version 6.1\n"))
	require.NoError(t, k.End(0, ""))
	require.NoError(t, w.Done())
	return b.Bytes()
}

func TestParseGood(t *testing.T) {
	for _, out := range []string{
		"",
		"hello\n",
		"no newline at the end",
		"\r\n\x00\xff binary \x16 bytes\n",
		// Output that imitates the protocol must not confuse the parser.
		Prefix + "end payload exit=0 bytes=0 sha256=" + strings.Repeat("0", 64) + "\n",
		"x\n" + Prefix + "done\n" + Prefix + "begin kmsg\n",
	} {
		b := stream(t, out, 7)
		s := Parse(b)
		require.True(t, s.Hello)
		require.Equal(t, "6.1.0-test", s.Release)
		require.True(t, s.Done, "stream %q", b)
		p := s.Section(SectionPayload)
		require.NotNil(t, p)
		require.NoError(t, p.Err)
		require.Equal(t, out, string(p.Data))
		require.Equal(t, 7, p.Exit)
		k := s.Section(SectionKmsg)
		require.NotNil(t, k)
		require.NoError(t, k.Err)
		require.Equal(t, "<6>[    0.000000] Linux version 6.1\n", string(k.Data))
	}
}

func TestParseTruncated(t *testing.T) {
	full := stream(t, "line one\nline two\n", 0)
	end := bytes.Index(full, []byte("\n"+Prefix+"end payload"))
	for _, cut := range []int{end - 3, end, end + 10, end + len(Prefix) + 30} {
		s := Parse(full[:cut])
		p := s.Section(SectionPayload)
		require.NotNil(t, p, "cut at %d", cut)
		require.ErrorIs(t, p.Err, ErrNoTrailer, "cut at %d", cut)
		require.False(t, s.Done)
		require.Nil(t, s.Section(SectionKmsg))
	}
	s := Parse([]byte("SeaBIOS noise\n" + Prefix + "hello release=\"x\"\n"))
	require.True(t, s.Hello)
	require.Nil(t, s.Section(SectionPayload))
}

func TestParseAltered(t *testing.T) {
	full := stream(t, "the payload says PASS\n", 0)
	tests := map[string][]byte{
		"byte changed":  bytes.Replace(full, []byte("PASS"), []byte("FAIL"), 1),
		"byte added":    bytes.Replace(full, []byte("PASS"), []byte("PASS!"), 1),
		"byte dropped":  bytes.Replace(full, []byte("PASS"), []byte("PAS"), 1),
		"crlf mangling": bytes.Replace(full, []byte("PASS\n"), []byte("PASS\r\n"), 1),
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			p := Parse(b).Section(SectionPayload)
			require.NotNil(t, p)
			var m *MismatchError
			require.True(t, errors.As(p.Err, &m), "error %v", p.Err)
			require.Equal(t, SectionPayload, m.Section)
		})
	}
}

func TestParseForgedTrailerInOutput(t *testing.T) {
	// The payload prints a trailer claiming success for a prefix of its
	// output, then keeps going and fails: the real trailer must win because
	// the forged one does not describe the bytes before it.
	forged := "ok\n" + Trailer(SectionPayload, 0, 99, strings.Repeat("a", 64), "") + "then it failed\n"
	p := Parse(stream(t, forged, 1)).Section(SectionPayload)
	require.NoError(t, p.Err)
	require.Equal(t, 1, p.Exit)
	require.Equal(t, forged, string(p.Data))
}

func TestParseInitError(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.Hello("r")
	s, _ := w.Begin(SectionPayload)
	s.End(-1, `start payload: fork/exec /x: exec format error "quoted"`)
	w.Done()
	p := Parse(b.Bytes()).Section(SectionPayload)
	require.NoError(t, p.Err)
	require.Equal(t, -1, p.Exit)
	require.Equal(t, `start payload: fork/exec /x: exec format error "quoted"`, p.InitError)
}

func TestTrailerFormat(t *testing.T) {
	sum := sha256.Sum256([]byte("abc"))
	got := Trailer("payload", 3, 3, hex.EncodeToString(sum[:]), "")
	require.Equal(t, "\ncorematrix-init v1 end payload exit=3 bytes=3 sha256=ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n", got)
}

// framed writes a stream whose payload section is framed, with frames
// alternating between stdout and stderr, and a file section.
func framed(t *testing.T, frames []string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b)
	require.NoError(t, w.Hello("6.1.0-test"))
	s, err := w.BeginStreams(SectionPayload)
	require.NoError(t, err)
	for i, f := range frames {
		tag := byte(TagStdout)
		if i%2 == 1 {
			tag = TagStderr
		}
		require.NoError(t, s.WriteFrame(tag, []byte(f)))
	}
	require.NoError(t, s.End(3, ""))
	fs, err := w.BeginFile(`/src/a "b"/c.out`, 0o640)
	require.NoError(t, err)
	fs.Write([]byte("mode: set\n\x00binary"))
	require.NoError(t, fs.End(0, ""))
	require.NoError(t, w.Done())
	return b.Bytes()
}

func TestParseFramed(t *testing.T) {
	frames := []string{"out one\n", "err one\n", "o2:" + Prefix + "end payload exit=0\n", "e\n", "\n"}
	b := framed(t, frames)
	s := Parse(b)
	require.True(t, s.Done)
	p := s.Section(SectionPayload)
	require.NotNil(t, p)
	require.NoError(t, p.Err)
	require.Equal(t, 3, p.Exit)
	require.Equal(t, strings.Join(frames, ""), string(p.Data))
	require.Equal(t, frames[0]+frames[2]+frames[4], string(p.Stdout))
	require.Equal(t, frames[1]+frames[3], string(p.Stderr))
	f := s.Section(SectionFile)
	require.NotNil(t, f)
	require.NoError(t, f.Err)
	require.Equal(t, `/src/a "b"/c.out`, f.Path)
	require.Equal(t, 0o640, int(f.Mode))
	require.Equal(t, "mode: set\n\x00binary", string(f.Data))

	// A file section cut short is never trusted.
	cut := b[:bytes.LastIndex(b, []byte("binary"))+3]
	f = Parse(cut).Section(SectionFile)
	require.NotNil(t, f)
	require.ErrorIs(t, f.Err, ErrNoTrailer)
}

func TestDeframeRejectsGarbage(t *testing.T) {
	for _, b := range []string{"o5:abc", "x", "o:abc", "o3abc", "o3:abcd"} {
		_, _, _, err := Deframe([]byte(b))
		require.Error(t, err, "%q", b)
	}
	all, out, errs, err := Deframe([]byte("o3:abce1:x"))
	require.NoError(t, err)
	require.Equal(t, "abcx", string(all))
	require.Equal(t, "abc", string(out))
	require.Equal(t, "x", string(errs))
}

func TestFollowerByteByByte(t *testing.T) {
	frames := []string{"first\n", "oops\n", strings.Repeat("long line ", 100) + "\n"}
	b := framed(t, frames)
	var out, errs bytes.Buffer
	f := NewFollower(SectionPayload, &out, &errs)
	for i := 0; i <= len(b); i++ {
		f.Feed(b[:i])
		if out.Len() > 0 && !f.Ended() {
			// What was printed so far is a prefix of stdout: nothing of the
			// framing or the trailer leaks.
			require.True(t, strings.HasPrefix(frames[0]+frames[2], out.String()))
		}
	}
	require.True(t, f.Ended())
	require.Equal(t, frames[0]+frames[2], out.String())
	require.Equal(t, frames[1], errs.String())
}

// compressed returns a stream whose kmsg section is the gzip stream z,
// sent with a matching trailer (what a guest init would send for z).
func compressed(z []byte) []byte {
	sum := sha256.Sum256(z)
	return []byte(Prefix + "begin kmsg " + encodingGzip + "\n" + string(z) +
		Trailer(SectionKmsg, 0, int64(len(z)), hex.EncodeToString(sum[:]), "") + Prefix + "done\n")
}

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	_, err := z.Write(data)
	require.NoError(t, err)
	require.NoError(t, z.Close())
	return b.Bytes()
}

func TestCompressedSection(t *testing.T) {
	log := bytes.Repeat([]byte("<6>[    1.717118] Run /init as init process\n"), 500)
	var b bytes.Buffer
	w := NewWriter(&b)
	k, err := w.BeginCompressed(SectionKmsg)
	require.NoError(t, err)
	for i := 0; i < len(log); i += 1000 {
		_, err := k.Write(log[i:min(i+1000, len(log))])
		require.NoError(t, err)
	}
	require.NoError(t, k.End(0, ""))
	require.NoError(t, w.Done())
	require.Less(t, b.Len(), len(log)/4, "the compressed stream is not smaller")

	s := Parse(b.Bytes())
	got := s.Section(SectionKmsg)
	require.NotNil(t, got)
	require.NoError(t, got.Err)
	require.Equal(t, log, got.Data)
	require.True(t, s.Done)

	// Cut short: not trusted, but what arrived decompresses for the user.
	cut := b.Bytes()[:b.Len()/2]
	got = Parse(cut).Section(SectionKmsg)
	require.ErrorIs(t, got.Err, ErrNoTrailer)
	require.NotEmpty(t, got.Data)
	require.True(t, bytes.HasPrefix(log, got.Data), "partial data is not a prefix of the log")
}

func TestCompressedSectionRefused(t *testing.T) {
	bomb := gz(t, make([]byte, MaxDecoded+1))
	for name, tc := range map[string]struct {
		z    []byte
		want error
	}{
		"not gzip":        {[]byte("plain text, trailer matches"), gzip.ErrHeader},
		"truncated gzip":  {gz(t, []byte("kernel log"))[:15], io.ErrUnexpectedEOF},
		"bomb":            {bomb, ErrTooLarge},
		"corrupt payload": {corrupt(gz(t, bytes.Repeat([]byte("abc"), 1000))), gzip.ErrChecksum},
	} {
		t.Run(name, func(t *testing.T) {
			got := Parse(compressed(tc.z)).Section(SectionKmsg)
			require.NotNil(t, got)
			require.ErrorIs(t, got.Err, tc.want)
			require.LessOrEqual(t, len(got.Data), MaxDecoded)
		})
	}
}

// corrupt flips the stored CRC-32 of a gzip stream.
func corrupt(z []byte) []byte {
	z = bytes.Clone(z)
	z[len(z)-8] ^= 0xff
	return z
}
