// Package wire is the protocol the guest init speaks to the host over the
// dedicated results serial port (ttyS1).
//
// The stream is a sequence of control lines, each starting with Prefix, and
// of framed sections:
//
//	corematrix-init v1 hello release=6.1.0-50-cloud-amd64
//	corematrix-init v1 begin payload framing=streams
//	<payload stdout and stderr, framed: see below>
//	corematrix-init v1 end payload exit=0 bytes=1234 sha256=<64 hex>
//	corematrix-init v1 begin file path="/src/pkg/c.out" mode=0644
//	<raw contents of a file the payload wrote for the host>
//	corematrix-init v1 end file exit=0 bytes=... sha256=...
//	corematrix-init v1 begin facts
//	<raw contents of $CM_FACTS>
//	corematrix-init v1 end facts exit=0 bytes=... sha256=...
//	corematrix-init v1 begin kmsg encoding=gzip
//	<kernel log, gzip-compressed>
//	corematrix-init v1 end kmsg exit=0 bytes=... sha256=...
//	corematrix-init v1 done
//
// A section's raw bytes are followed by a newline and exactly one trailer line
// ("end"), so the trailer always starts on a line of its own, even when the
// data does not end in a newline. The trailer holds the exit code, the byte
// count and the SHA-256 of the bytes between the begin line and the newline
// that precedes the trailer. A trailer may carry error="..." when the guest
// init could not do its job (the exit code is then -1). A section without a
// matching trailer is never trusted.
//
// A begin line may carry attributes after the name (KEY=VALUE, values of
// paths quoted). With framing=streams the section's bytes are a sequence of
// frames, one per read of the payload's stdout or stderr: a tag byte ('o' for
// stdout, 'e' for stderr), the decimal length, ':' and that many bytes. The
// frames let the host keep stdout and stderr apart and print them while the
// guest still runs: a frame never starts with '\n', so the byte after the last
// frame (the newline before the trailer) ends the section unambiguously. The
// trailer covers the framed bytes.
//
// With encoding=gzip the section's bytes are a gzip stream (the guest init
// sends the kernel log so: a third of the bytes, and every byte on an
// emulated UART costs). The trailer covers the compressed bytes; the host
// decompresses them, at most MaxDecoded bytes, and a section that does not
// decompress cleanly is not trusted. Only the kmsg section is ever
// decompressed.
//
// The guest is not trusted: the host parses a stream in time linear in its
// length (one running hash per section, however many candidate trailers it
// holds), within a budget for the stream and what it decompresses to
// (ParseLimit, DefaultLimit), and refuses a second payload, facts or kmsg
// section.
//
// It owns the framing on both sides of the wire and must not import any other
// corematrix package.
package wire
