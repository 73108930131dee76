package wire

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// Prefix starts every control line of the stream.
const Prefix = "corematrix-init v1 "

// Section names used by the guest init.
const (
	SectionPayload = "payload"
	SectionFacts   = "facts"
	SectionKmsg    = "kmsg"
	// SectionFile carries a file the payload wrote for the host; its begin
	// line names the path (path="...") and permission bits (mode=0644).
	SectionFile = "file"
)

// Frame tags of a framing=streams section.
const (
	TagStdout = 'o'
	TagStderr = 'e'
)

// Begin-line attributes: a framed section, a compressed section.
const (
	framingStreams = "framing=streams"
	encodingGzip   = "encoding=gzip"
)

// MaxDecoded bounds what one compressed section may decompress to: the
// largest kernel log buffer (log_buf_len) is 32 MiB.
const MaxDecoded = 64 << 20

// ErrTooLarge means a compressed section decompresses to more than MaxDecoded
// bytes.
var ErrTooLarge = errors.New("decompresses to more than the limit")

// DefaultLimit is the default budget for everything a guest sends: the
// stream's bytes plus what its sections decompress to.
const DefaultLimit = 256 << 20

// ErrOverBudget means the guest sent more than the run's budget.
var ErrOverBudget = errors.New("guest output exceeded the limit")

// ErrDuplicate means a section that occurs once per run came again.
var ErrDuplicate = errors.New("the section came twice")

// BudgetError says the guest's output exceeded the budget of Limit bytes.
type BudgetError struct{ Limit int64 }

func (e *BudgetError) Error() string { return "guest output exceeded " + FormatSize(e.Limit) }

func (e *BudgetError) Unwrap() error { return ErrOverBudget }

// FormatSize formats a byte count in whole MiB when it is one ("256 MiB"),
// else in bytes.
func FormatSize(n int64) string {
	if n > 0 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ErrNoTrailer means a section began but its trailer never arrived: the guest
// stopped (or the stream was cut) before the section was finished.
var ErrNoTrailer = errors.New("no trailer")

// MismatchError means a trailer arrived but does not describe the bytes received.
type MismatchError struct {
	Section         string
	WantBytes       int64
	GotBytes        int64
	WantSHA, GotSHA string
}

func (e *MismatchError) Error() string {
	if e.WantBytes != e.GotBytes {
		return fmt.Sprintf("%s trailer mismatch: trailer says %d bytes, received %d", e.Section, e.WantBytes, e.GotBytes)
	}
	return fmt.Sprintf("%s trailer mismatch: sha256 %s in trailer, %s received", e.Section, short(e.WantSHA), short(e.GotSHA))
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// Writer writes the guest side of the protocol.
type Writer struct {
	w io.Writer
}

// NewWriter returns a Writer that writes to w (the raw-mode results port).
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Hello announces that the guest init runs, with the guest's `uname -r`.
func (w *Writer) Hello(release string) error {
	_, err := fmt.Fprintf(w.w, "%shello release=%s\n", Prefix, strconv.Quote(release))
	return err
}

// Error reports an init error that is not tied to a section.
func (w *Writer) Error(msg string) error {
	_, err := fmt.Fprintf(w.w, "%serror %s\n", Prefix, strconv.Quote(msg))
	return err
}

// ShellLine announces that the guest init starts an interactive shell on
// the shell port (the results sections before it are complete); the host
// stops its deadline then.
const ShellLine = Prefix + "shell\n"

// Shell writes ShellLine.
func (w *Writer) Shell() error {
	_, err := io.WriteString(w.w, ShellLine)
	return err
}

// Done is the last line of a complete stream.
func (w *Writer) Done() error {
	_, err := fmt.Fprintf(w.w, "%sdone\n", Prefix)
	return err
}

// Section is an open section; write its bytes, then call End exactly once.
type Section struct {
	w    io.Writer
	name string
	n    int64
	h    hash.Hash
	// z, when set, compresses what Write gets before it is counted,
	// hashed and sent (encoding=gzip).
	z *gzip.Writer
}

// Begin opens a section.
func (w *Writer) Begin(name string) (*Section, error) {
	return w.begin(name, "")
}

// BeginStreams opens a framed section; write to it with WriteFrame.
func (w *Writer) BeginStreams(name string) (*Section, error) {
	return w.begin(name, " "+framingStreams)
}

// BeginCompressed opens a section whose bytes travel gzip-compressed; the
// host receives them decompressed.
func (w *Writer) BeginCompressed(name string) (*Section, error) {
	s, err := w.begin(name, " "+encodingGzip)
	if err != nil {
		return nil, err
	}
	s.z, err = gzip.NewWriterLevel(rawWriter{s}, gzip.BestSpeed)
	return s, err
}

// rawWriter sends, counts and hashes the bytes of a compressed section.
type rawWriter struct{ s *Section }

func (r rawWriter) Write(p []byte) (int, error) { return r.s.write(p) }

// BeginFile opens a file section for path with permission bits mode.
func (w *Writer) BeginFile(path string, mode fs.FileMode) (*Section, error) {
	return w.begin(SectionFile, fmt.Sprintf(" path=%s mode=%#o", strconv.Quote(path), mode.Perm()))
}

func (w *Writer) begin(name, attrs string) (*Section, error) {
	if _, err := fmt.Fprintf(w.w, "%sbegin %s%s\n", Prefix, name, attrs); err != nil {
		return nil, err
	}
	return &Section{w: w.w, name: name, h: sha256.New()}, nil
}

// WriteFrame writes p as one frame of stream tag (TagStdout or TagStderr) in
// a section opened with BeginStreams. An empty p writes nothing.
func (s *Section) WriteFrame(tag byte, p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if _, err := s.Write(fmt.Appendf(nil, "%c%d:", tag, len(p))); err != nil {
		return err
	}
	_, err := s.Write(p)
	return err
}

// Write writes section bytes, counting and hashing what was sent.
func (s *Section) Write(p []byte) (int, error) {
	if s.z != nil {
		return s.z.Write(p)
	}
	return s.write(p)
}

func (s *Section) write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.n += int64(n)
	s.h.Write(p[:n])
	return n, err
}

// End writes the trailer. errMsg, when not empty, says why the section is
// incomplete (for example the payload could not be started).
func (s *Section) End(exit int, errMsg string) error {
	if s.z != nil {
		if err := s.z.Close(); err != nil && errMsg == "" {
			exit, errMsg = -1, "compress: "+err.Error()
		}
	}
	line := Trailer(s.name, exit, s.n, hex.EncodeToString(s.h.Sum(nil)), errMsg)
	_, err := io.WriteString(s.w, line)
	return err
}

// Trailer formats a trailer line, including the newline that precedes it.
func Trailer(section string, exit int, n int64, sha string, errMsg string) string {
	line := fmt.Sprintf("\n%send %s exit=%d bytes=%d sha256=%s", Prefix, section, exit, n, sha)
	if errMsg != "" {
		line += " error=" + strconv.Quote(errMsg)
	}
	return line + "\n"
}

// Received is one section as the host received it.
type Received struct {
	Name string
	// Path and Mode are the attributes of a file section.
	Path string
	Mode fs.FileMode
	// Data are the section bytes; only trustworthy when Err is nil. Of a
	// framed section, Data is the payload of its frames in order (stdout
	// and stderr interleaved as they were read).
	Data []byte
	// Stdout and Stderr are the frames of each stream of a framed section.
	Stdout, Stderr []byte
	// Exit is the exit code from the trailer (-1 when the init failed).
	Exit int
	// InitError is the error="..." field of the trailer.
	InitError string
	// Err is ErrNoTrailer or a *MismatchError when the section cannot be trusted.
	Err error
	// decoded is set when Data was decompressed (it counts against the
	// budget on top of the stream's bytes).
	decoded bool
}

// Stream is a parsed results stream.
type Stream struct {
	// Hello is true when the guest init announced itself.
	Hello bool
	// Release is the guest's `uname -r`.
	Release string
	// Sections in order of arrival (file sections included). Parsing stops
	// at the first untrusted one.
	Sections []*Received
	// Errors are init errors reported outside sections.
	Errors []string
	// Done is true when the stream ended properly.
	Done bool
	// OverBudget is set when the stream and what its sections decompress
	// to exceed the budget (see ParseLimit); parsing stopped there.
	OverBudget *BudgetError
}

// Section returns the named section, or nil.
func (s *Stream) Section(name string) *Received {
	for _, r := range s.Sections {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Parse parses a results stream within DefaultLimit (see ParseLimit).
func Parse(b []byte) *Stream { return ParseLimit(b, DefaultLimit) }

// ParseLimit parses a results stream. Bytes outside control lines and
// sections are ignored (firmware or the kernel may write noise before the
// init starts). A limit of 0 means DefaultLimit. The stream's length plus what its sections decompress to
// may not exceed limit bytes: the section that would is not trusted
// (ErrOverBudget) and parsing stops there. Only the kernel log travels
// compressed; a payload, facts or kmsg section that comes a second time is
// not trusted (ErrDuplicate): the host reads the first.
func ParseLimit(b []byte, limit int64) *Stream {
	if limit <= 0 {
		limit = DefaultLimit
	}
	s := &Stream{}
	if int64(len(b)) > limit {
		s.OverBudget = &BudgetError{Limit: limit}
		b = b[:limit]
	}
	spent := int64(len(b))
	seen := map[string]bool{}
	p := 0
	for p < len(b) {
		i := bytes.IndexByte(b[p:], '\n')
		if i < 0 {
			break // incomplete line: the stream was cut
		}
		line := string(b[p : p+i])
		p += i + 1
		_, after, ok := strings.Cut(line, Prefix)
		if !ok {
			continue
		}
		verb, rest, _ := strings.Cut(after, " ")
		switch verb {
		case "hello":
			s.Hello = true
			if v, ok := strings.CutPrefix(rest, "release="); ok {
				if u, err := strconv.Unquote(v); err == nil {
					s.Release = u
				}
			}
		case "error":
			if u, err := strconv.Unquote(rest); err == nil {
				rest = u
			}
			s.Errors = append(s.Errors, rest)
		case "done":
			s.Done = true
		case "begin":
			name, attrs, _ := strings.Cut(rest, " ")
			if name != SectionFile && seen[name] {
				s.Sections = append(s.Sections, &Received{Name: name, Exit: -1, Err: fmt.Errorf("%s: %w", name, ErrDuplicate)})
				return s
			}
			seen[name] = true
			r, next := parseSection(b, p, name, attrs, limit-spent)
			s.Sections = append(s.Sections, r)
			if errors.Is(r.Err, ErrOverBudget) {
				s.OverBudget = &BudgetError{Limit: limit}
			}
			if r.Err != nil {
				return s
			}
			if r.decoded {
				spent += int64(len(r.Data))
			}
			p = next
		}
	}
	return s
}

// parseSection finds the trailer of section name whose data start at b[start:].
// It accepts the first trailer whose byte count and hash match the bytes before
// it, and returns the offset after that trailer line.
// What the section decompresses to may not exceed room bytes.
func parseSection(b []byte, start int, name, attrs string, room int64) (*Received, int) {
	r := &Received{Name: name, Exit: -1}
	enc := r.parseAttrs(name, attrs)
	at, next, t, err := matchTrailer(b, start, name)
	if err == nil {
		r.Data, r.Exit, r.InitError = b[start:at], t.exit, t.errMsg
		enc.decode(r, room)
		return r, next
	}
	r.Data = b[start:]
	r.Err = err
	if errors.Is(err, ErrNoTrailer) {
		r.Err = fmt.Errorf("%s: %w after %d bytes", name, ErrNoTrailer, len(b)-start)
	}
	enc.decodePartial(r, room)
	return r, len(b)
}

// encoding is how a section's data travel.
type encoding struct {
	// framed: stdout and stderr frames (framing=streams).
	framed bool
	// gzipped: gzip-compressed (encoding=gzip; the kernel log only).
	gzipped bool
}

// parseAttrs sets the path and mode of r from the attributes of section
// name's begin line, and returns how its data travel.
func (r *Received) parseAttrs(name, attrs string) encoding {
	var enc encoding
	for attrs != "" {
		var kv string
		if k, v, ok := strings.Cut(attrs, "="); ok && strings.HasPrefix(v, `"`) {
			// A quoted value: find its end with strconv.QuotedPrefix.
			q, err := strconv.QuotedPrefix(v)
			if err != nil {
				break
			}
			u, _ := strconv.Unquote(q)
			if k == "path" {
				r.Path = u
			}
			attrs = strings.TrimPrefix(v[len(q):], " ")
			continue
		}
		kv, attrs, _ = strings.Cut(attrs, " ")
		switch k, v, _ := strings.Cut(kv, "="); k {
		case "framing":
			enc.framed = v == "streams"
		case "encoding":
			// Only the kernel log travels compressed: a guest cannot make
			// the host inflate any other section.
			enc.gzipped = v == "gzip" && name == SectionKmsg
		case "mode":
			if m, err := strconv.ParseUint(v, 0, 32); err == nil {
				r.Mode = fs.FileMode(m).Perm()
			}
		}
	}
	return enc
}

// matchTrailer finds the first trailer of section name, whose data start at
// b[start:], that matches the bytes before it (count and SHA-256). It
// returns where the data end (the newline before the trailer), the offset
// after the trailer line and the trailer; else the error of the last
// candidate, or ErrNoTrailer.
func matchTrailer(b []byte, start int, name string) (at, next int, t trailer, err error) {
	marker := []byte("\n" + Prefix + "end " + name + " ")
	var lastErr error = ErrNoTrailer
	// The hash runs over the section once, however many candidate
	// trailers it holds: each candidate's sum is taken from a copy of the
	// running state (a hostile guest may send a trailer on every line).
	h := sha256.New()
	hashed := start
	for off := start; ; {
		k := bytes.Index(b[off:], marker)
		if k < 0 {
			return 0, 0, trailer{}, lastErr
		}
		at := off + k // index of the newline before the trailer
		eol := bytes.IndexByte(b[at+len(marker):], '\n')
		if eol < 0 {
			return 0, 0, trailer{}, lastErr // trailer line cut short
		}
		fields := string(b[at+len(marker) : at+len(marker)+eol])
		next := at + len(marker) + eol + 1
		off = at + 1
		t, err := parseTrailer(fields)
		if err != nil {
			lastErr = fmt.Errorf("%s trailer: %w", name, err)
			continue
		}
		size := int64(at - start)
		if size != t.bytes {
			lastErr = &MismatchError{Section: name, WantBytes: t.bytes, GotBytes: size}
			continue
		}
		h.Write(b[hashed:at])
		hashed = at
		c, err := h.(hash.Cloner).Clone()
		if err != nil {
			panic(err) // SHA-256 always clones
		}
		if got := hex.EncodeToString(c.Sum(nil)); got != t.sha {
			lastErr = &MismatchError{Section: name, WantBytes: t.bytes, GotBytes: size, WantSHA: t.sha, GotSHA: got}
			continue
		}
		return at, next, t, nil
	}
}

// decode decodes the intact data of r in place (at most room bytes
// decompressed); an error is r.Err.
func (enc encoding) decode(r *Received, room int64) {
	var err error
	if enc.gzipped {
		r.decoded = true
		if r.Data, err = decompress(r.Data, room); err != nil {
			r.Err = fmt.Errorf("%s: %w", r.Name, err)
		}
	}
	if enc.framed {
		if r.Data, r.Stdout, r.Stderr, err = Deframe(r.Data); err != nil {
			r.Err = fmt.Errorf("%s: %w", r.Name, err)
		}
	}
}

// decodePartial decodes what arrived of a section without a matching
// trailer as far as it goes, for the user to read.
func (enc encoding) decodePartial(r *Received, room int64) {
	if enc.gzipped {
		r.Data, _ = decompress(r.Data, room)
	}
	if enc.framed {
		var a, o, e bytes.Buffer
		d := Deframer{Out: &o, Err: &e, All: &a}
		d.feed(r.Data)
		r.Data, r.Stdout, r.Stderr = a.Bytes(), o.Bytes(), e.Bytes()
	}
}

// decompress returns the gzip stream b decompressed, at most MaxDecoded
// bytes and at most room (the rest of the run's budget). On an error it
// returns what decompressed before it.
func decompress(b []byte, room int64) ([]byte, error) {
	z, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	z.Multistream(false)
	lim := min(int64(MaxDecoded), max(room, 0))
	var out bytes.Buffer
	// The gzip trailer's size (a hint only: the guest wrote it) sizes the
	// buffer once, instead of doubling it (and the garbage) up to lim.
	if len(b) >= 4 {
		hint := int64(b[len(b)-4]) | int64(b[len(b)-3])<<8 | int64(b[len(b)-2])<<16 | int64(b[len(b)-1])<<24
		out.Grow(int(min(hint, lim) + 1))
	}
	_, err = io.Copy(&out, io.LimitReader(z, lim+1))
	switch {
	case err != nil:
		return out.Bytes(), fmt.Errorf("decompress: %w", err)
	case int64(out.Len()) > lim && lim < MaxDecoded:
		return out.Bytes()[:lim], fmt.Errorf("decompress: %w", ErrOverBudget)
	case int64(out.Len()) > lim:
		return out.Bytes()[:lim], fmt.Errorf("decompress: %w (%d MiB)", ErrTooLarge, MaxDecoded>>20)
	}
	return out.Bytes(), nil
}

// Deframe splits the bytes of a framed section into the payload of all its
// frames in order and the payload of each stream.
func Deframe(b []byte) (all, stdout, stderr []byte, err error) {
	var f Deframer
	var a, o, e bytes.Buffer
	f.Out, f.Err, f.All = &o, &e, &a
	used, err := f.feed(b)
	switch {
	case err != nil:
		return nil, nil, nil, err
	case used < len(b):
		return nil, nil, nil, fmt.Errorf("byte %d of %d does not start a frame", used, len(b))
	case f.partial():
		return nil, nil, nil, errors.New("last frame cut short")
	}
	return a.Bytes(), o.Bytes(), e.Bytes(), nil
}

// Deframer decodes frames written to it in pieces of any size, copying each
// frame's bytes to Out or Err as soon as they arrive (and to All, when set).
// It stops at the first byte that cannot start a frame: the end of a section.
type Deframer struct {
	Out, Err, All io.Writer
	// Ended is set once a byte that cannot start a frame was seen.
	Ended bool
	hdr   []byte // the header read so far
	tag   byte
	left  int // bytes of the current frame still to come
}

func (d *Deframer) partial() bool { return len(d.hdr) > 0 || d.left > 0 }

// Write consumes p; bytes after the end of the section are ignored. The error
// is a malformed frame header.
func (d *Deframer) Write(p []byte) (int, error) {
	_, err := d.feed(p)
	return len(p), err
}

// feed decodes p and returns how many bytes belonged to frames.
func (d *Deframer) feed(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && !d.Ended {
		if d.left > 0 {
			k := min(d.left, len(p))
			w := d.Out
			if d.tag == TagStderr {
				w = d.Err
			}
			if w != nil {
				w.Write(p[:k])
			}
			if d.All != nil {
				d.All.Write(p[:k])
			}
			d.left -= k
			p = p[k:]
			continue
		}
		c := p[0]
		p = p[1:]
		if len(d.hdr) == 0 {
			if c != TagStdout && c != TagStderr {
				d.Ended = true
				return n - len(p) - 1, nil
			}
			d.hdr = append(d.hdr, c)
			continue
		}
		if c != ':' {
			if c < '0' || c > '9' || len(d.hdr) > 12 {
				d.Ended = true
				return n - len(p), fmt.Errorf("malformed frame header %q", append(d.hdr, c))
			}
			d.hdr = append(d.hdr, c)
			continue
		}
		size, err := strconv.Atoi(string(d.hdr[1:]))
		if err != nil || size <= 0 {
			d.Ended = true
			return n - len(p), fmt.Errorf("malformed frame header %q", d.hdr)
		}
		d.tag, d.left, d.hdr = d.hdr[0], size, d.hdr[:0]
	}
	return n, nil
}

// Follower prints a framed section of a results stream while the stream
// still grows: give it the whole stream read so far, as often as wanted.
type Follower struct {
	Section string
	d       Deframer
	off     int // offset of the next byte to decode; 0 before the begin line
	err     error
}

// NewFollower follows section (framed) and copies its streams to out and errw.
func NewFollower(section string, out, errw io.Writer) *Follower {
	return &Follower{Section: section, d: Deframer{Out: out, Err: errw}}
}

// Feed decodes what is new in stream (the stream so far, from its start).
func (f *Follower) Feed(stream []byte) {
	if f.d.Ended || f.err != nil {
		return
	}
	if f.off == 0 {
		begin := []byte(Prefix + "begin " + f.Section + " " + framingStreams + "\n")
		i := bytes.Index(stream, begin)
		if i < 0 {
			return
		}
		f.off = i + len(begin)
	}
	if f.off >= len(stream) {
		return
	}
	_, f.err = f.d.feed(stream[f.off:])
	f.off = len(stream)
}

// Ended reports whether the end of the section was seen.
func (f *Follower) Ended() bool { return f.d.Ended }

type trailer struct {
	exit   int
	bytes  int64
	sha    string
	errMsg string
}

func parseTrailer(s string) (trailer, error) {
	var t trailer
	var seen int
	for s != "" {
		kv, rest, _ := strings.Cut(s, " ")
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return t, fmt.Errorf("malformed field %q", kv)
		}
		var err error
		switch k {
		case "exit":
			t.exit, err = strconv.Atoi(v)
			seen |= 1
		case "bytes":
			t.bytes, err = strconv.ParseInt(v, 10, 64)
			seen |= 2
		case "sha256":
			t.sha = v
			seen |= 4
		case "error":
			// The quoted message is the rest of the line.
			t.errMsg, err = strconv.Unquote(s[len("error="):])
			rest = ""
		}
		if err != nil {
			return t, fmt.Errorf("field %s: %w", k, err)
		}
		s = rest
	}
	if seen != 7 {
		return t, errors.New("missing exit, bytes or sha256")
	}
	return t, nil
}
