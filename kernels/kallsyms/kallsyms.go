// Package kallsyms reads the kernel's symbol table out of a vmlinux ELF that
// has no .symtab (the decompressed payload of a distribution bzImage) or
// out of an arm64 Image (a raw binary, see ARM64Image), and the ftrace-able
// call sites the kernel records in __mcount_loc.
//
// A kernel built with CONFIG_KALLSYMS carries its symbols compressed in
// .rodata (scripts/kallsyms.c): kallsyms_names (each symbol a length byte or
// two and indexes into kallsyms_token_table), kallsyms_markers (the offset of
// every 256th symbol in kallsyms_names), kallsyms_token_table (256
// NUL-terminated tokens), kallsyms_token_index (256 16-bit offsets of the
// tokens), kallsyms_num_syms and the addresses as 32-bit kallsyms_offsets
// from kallsyms_relative_base. None of them has a symbol pointing at it, so
// Parse finds them by their shapes: the token table is the one run of 256
// strings whose token index follows it; the markers are the increasing
// 32-bit array that starts with 0 before it; the names decode to exactly the
// markers' offsets; the offsets decode to ascending addresses that put _text
// at the start of .text. Every step is checked, so a table Parse returns is
// the kernel's own, and an image it cannot read gives an error, never a
// guess.
//
// The layouts of 5.10 to 7.x kernels are covered (the tables were reordered
// and kallsyms_seqs_of_names added in 6.1-6.4; symbol lengths above 127 take
// two bytes since 6.1).
package kallsyms

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
)

// ErrNotFound is returned for an image whose kallsyms tables Parse cannot
// find (a kernel built without CONFIG_KALLSYMS, or a layout it does not
// know).
var ErrNotFound = errors.New("no kallsyms table found")

// Symbol is one kallsyms entry.
type Symbol struct {
	Name string
	// Type is nm's type letter: 'T'/'t' text, 'D'/'d' data, 'R'/'r'
	// read-only data, 'B'/'b' bss, 'W'/'w' weak, 'A' absolute.
	Type byte
	Addr uint64
}

// IsText reports whether s is a function (or other code) symbol.
func (s Symbol) IsText() bool {
	return s.Type == 'T' || s.Type == 't' || s.Type == 'W' || s.Type == 'w'
}

// Table is a kernel's kallsyms in address order.
type Table struct {
	Symbols []Symbol
}

// Parse reads the kallsyms table of the x86-64 vmlinux ELF image.
func Parse(vmlinux []byte) (*Table, error) {
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		return nil, fmt.Errorf("kallsyms: not an ELF: %w", err)
	}
	rodata := f.Section(".rodata")
	text := f.Section(".text")
	if rodata == nil || text == nil || rodata.Type == elf.SHT_NOBITS {
		return nil, fmt.Errorf("kallsyms: no .rodata or .text section: %w", ErrNotFound)
	}
	data, err := rodata.Data()
	if err != nil {
		return nil, fmt.Errorf("kallsyms: read .rodata: %w", err)
	}
	p := parser{d: data, rodataAddr: rodata.Addr, textStart: text.Addr, textEnd: text.Addr + text.Size}
	return p.parse()
}

type parser struct {
	d                  []byte
	rodataAddr         uint64
	textStart, textEnd uint64
	tokens             [256][]byte
	tokenTable         int // offset of kallsyms_token_table in d
	tokenIndex         int
	markers            []uint32
	markersAt          int
	names              int // offset of kallsyms_names
	namesEnd           int
	num                int
}

func (p *parser) u32(off int) uint32 { return binary.LittleEndian.Uint32(p.d[off:]) }
func (p *parser) u64(off int) uint64 { return binary.LittleEndian.Uint64(p.d[off:]) }

func (p *parser) parse() (*Table, error) {
	if err := p.findTokens(); err != nil {
		return nil, err
	}
	if err := p.findMarkers(); err != nil {
		return nil, err
	}
	if err := p.findNames(); err != nil {
		return nil, err
	}
	names, types, err := p.decodeNames()
	if err != nil {
		return nil, err
	}
	addrs, err := p.findAddresses(names)
	if err != nil {
		return nil, err
	}
	t := &Table{Symbols: make([]Symbol, p.num)}
	for i := range p.num {
		t.Symbols[i] = Symbol{Name: names[i], Type: types[i], Addr: addrs[i]}
	}
	return t, nil
}

// findTokens finds kallsyms_token_table: the single-character tokens of the
// digits, "0\x001\x00...9\x00", at positions 48..57 of 256 strings that
// kallsyms_token_index (256 little-endian u16 offsets, aligned) describes.
func (p *parser) findTokens() error {
	var digits []byte
	for c := byte('0'); c <= '9'; c++ {
		digits = append(digits, c, 0)
	}
	for from := 0; ; {
		i := bytes.Index(p.d[from:], digits)
		if i < 0 {
			return fmt.Errorf("kallsyms: token table: %w", ErrNotFound)
		}
		at := from + i
		from = at + 1
		if p.tryTokens(at) {
			return nil
		}
	}
}

func (p *parser) tryTokens(digitsAt int) bool {
	// Walk back 48 strings from "0".
	start := digitsAt
	for range 48 {
		if start < 2 {
			return false
		}
		prev := bytes.LastIndexByte(p.d[:start-1], 0)
		start = prev + 1
	}
	var offs [256]int
	q := start
	for k := range 256 {
		e := bytes.IndexByte(p.d[q:], 0)
		if e < 0 {
			return false
		}
		offs[k] = q - start
		p.tokens[k] = p.d[q : q+e]
		q += e + 1
	}
	for _, align := range []int{1, 2, 4, 8} {
		idx := (q + align - 1) &^ (align - 1)
		if idx+512 > len(p.d) {
			continue
		}
		ok := true
		for k := range 256 {
			if int(binary.LittleEndian.Uint16(p.d[idx+2*k:])) != offs[k] {
				ok = false
				break
			}
		}
		if ok {
			p.tokenTable, p.tokenIndex = start, idx
			return true
		}
	}
	return false
}

// maxSymbolBytes bounds the compressed size of one symbol in the marker
// checks (a marker step covers 256 symbols).
const maxSymbolBytes = 64

// findMarkers finds kallsyms_markers: 32-bit offsets into kallsyms_names of
// every 256th symbol, starting with 0 and rising by 256 symbols' worth of
// bytes each. It lies just before the token table, or before
// kallsyms_seqs_of_names (3 bytes a symbol) on 6.1-6.3.
func (p *parser) findMarkers() error {
	const window = 16 << 20
	lo := max(0, p.tokenTable-window)
	step := func(a, b uint32) bool { return b > a && b-a >= 256 && b-a <= 256*maxSymbolBytes }
	for at := (p.tokenTable - 4) &^ 3; at >= lo; at -= 4 {
		if p.u32(at) != 0 || at+4*17 > len(p.d) {
			continue
		}
		ok := true
		for k := range 16 {
			if !step(p.u32(at+4*k), p.u32(at+4*k+4)) {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		m := []uint32{0}
		for k := 1; at+4*k+4 <= p.tokenTable; k++ {
			v := p.u32(at + 4*k)
			if !step(m[len(m)-1], v) {
				break
			}
			m = append(m, v)
		}
		p.markers, p.markersAt = m, at
		return nil
	}
	return fmt.Errorf("kallsyms: markers: %w", ErrNotFound)
}

// findNames finds kallsyms_names and kallsyms_num_syms: a 32-bit count whose
// markers are the ones found, right before the names (possibly with
// alignment), where decoding from the names' start reaches every marker.
func (p *parser) findNames() error {
	last := int(p.markers[len(p.markers)-1])
	nm := len(p.markers)
	// The names end before the markers; the last 256 symbols take at most
	// 256*maxSymbolBytes bytes. Table layouts place the names either just
	// before the markers or far before them; search near first.
	hi := p.markersAt - last
	lo := max(8, hi-256*maxSymbolBytes-8)
	for s := hi; s >= lo; s-- {
		for _, gap := range []int{4, 8} {
			if s-gap < 0 {
				continue
			}
			n := int(p.u32(s - gap))
			if n == 0 || (n+255)/256 != nm {
				continue
			}
			if gap == 8 && p.u32(s-4) != 0 {
				continue
			}
			if p.checkNames(s, n) {
				p.names, p.num = s, n
				return nil
			}
		}
	}
	return fmt.Errorf("kallsyms: names (%d markers): %w", nm, ErrNotFound)
}

// entryLen returns the length of the kallsyms_names entry at off and the
// size of its length prefix (two bytes, ULEB128, for lengths over 127).
func (p *parser) entryLen(off int) (n, prefix int, ok bool) {
	if off >= len(p.d) {
		return 0, 0, false
	}
	b := int(p.d[off])
	if b&0x80 == 0 {
		return b, 1, b > 0
	}
	if off+1 >= len(p.d) {
		return 0, 0, false
	}
	return b&0x7f | int(p.d[off+1])<<7, 2, true
}

// checkNames reports whether n entries from s land on every marker.
func (p *parser) checkNames(s, n int) bool {
	off := s
	for i := range n {
		if i%256 == 0 && off-s != int(p.markers[i/256]) {
			return false
		}
		l, pre, ok := p.entryLen(off)
		if !ok {
			return false
		}
		off += pre + l
		if off > len(p.d) {
			return false
		}
	}
	p.namesEnd = off
	return true
}

func (p *parser) decodeNames() ([]string, []byte, error) {
	names := make([]string, p.num)
	types := make([]byte, p.num)
	off := p.names
	var buf []byte
	for i := range p.num {
		l, pre, _ := p.entryLen(off)
		buf = buf[:0]
		for _, t := range p.d[off+pre : off+pre+l] {
			buf = append(buf, p.tokens[t]...)
		}
		off += pre + l
		if len(buf) < 2 {
			return nil, nil, fmt.Errorf("kallsyms: symbol %d decodes to %q", i, buf)
		}
		types[i] = buf[0]
		names[i] = string(buf[1:])
	}
	return names, types, nil
}

// findAddresses finds kallsyms_offsets and kallsyms_relative_base and
// returns every symbol's address. The offsets are N 32-bit values either
// before relative_base and num_syms (up to 6.3) or after the token index
// (6.4 on), the latter relative to their own place from 6.15 on. Which layout and which encoding (CONFIG_KALLSYMS_ABSOLUTE_PERCPU
// or not) holds is decided by the result: ascending addresses with _text
// (or startup_64) at the start of .text.
func (p *parser) findAddresses(names []string) ([]uint64, error) {
	anchor := -1
	for i, n := range names {
		if n == "_text" || n == "startup_64" {
			anchor = i
			break
		}
	}
	if anchor < 0 {
		return nil, fmt.Errorf("kallsyms: no _text or startup_64 symbol: %w", ErrNotFound)
	}
	cands := p.layouts()
	for _, c := range cands {
		if c.base < 0 {
			if addrs := p.placeRelative(c.offsets); addrs[anchor] == p.textStart && sorted(addrs) {
				return addrs, nil
			}
			continue
		}
		for _, percpu := range []bool{true, false} {
			addrs := p.addresses(c.offsets, p.u64(c.base), percpu)
			if addrs[anchor] == p.textStart && sorted(addrs) {
				return addrs, nil
			}
		}
	}
	return nil, fmt.Errorf("kallsyms: offsets: %w", ErrNotFound)
}

// layout places kallsyms_offsets (N 32-bit values) and
// kallsyms_relative_base (-1: none, the offsets are place-relative).
type layout struct{ offsets, base int }

// layouts returns where the offsets and relative base may be: before
// relative_base and num_syms (up to 6.3) or after the token index (6.4 on),
// the latter relative to their own place from 6.15 on.
func (p *parser) layouts() []layout {
	var cands []layout
	align8 := func(x int) int { return (x + 7) &^ 7 }
	// Before num_syms: relative_base (8 bytes, aligned) then num_syms.
	for _, nsAt := range []int{p.names - 4, p.names - 8} {
		base := (nsAt - 8) &^ 7
		for _, end := range []int{base, base - 4} {
			cands = append(cands, layout{offsets: end - 4*p.num, base: base})
		}
	}
	// After the token index: offsets, then relative_base (aligned).
	off := align8(p.tokenIndex + 512)
	for _, o := range []int{off, p.tokenIndex + 512} {
		cands = append(cands, layout{offsets: o, base: align8(o + 4*p.num)})
		cands = append(cands, layout{offsets: o, base: -1})
	}
	var out []layout
	for _, c := range cands {
		if c.offsets >= 0 && c.offsets+4*p.num <= len(p.d) && c.base+8 <= len(p.d) {
			out = append(out, c)
		}
	}
	return out
}

// placeRelative decodes offsets that are relative to their own place
// (".long sym - .", 6.15 on).
func (p *parser) placeRelative(at int) []uint64 {
	out := make([]uint64, p.num)
	for i := range p.num {
		place := p.rodataAddr + uint64(at+4*i)
		out[i] = place + uint64(int64(int32(p.u32(at+4*i))))
	}
	return out
}

// addresses decodes offsets from kallsyms_relative_base; with
// CONFIG_KALLSYMS_ABSOLUTE_PERCPU non-negative ones are absolute (per-cpu)
// and negative ones count down from base-1.
func (p *parser) addresses(at int, base uint64, absolutePercpu bool) []uint64 {
	out := make([]uint64, p.num)
	for i := range p.num {
		v := p.u32(at + 4*i)
		switch {
		case !absolutePercpu:
			out[i] = base + uint64(v)
		case int32(v) >= 0:
			out[i] = uint64(v)
		default:
			out[i] = base - 1 - uint64(int64(int32(v)))
		}
	}
	return out
}

// sorted reports whether the kernel-space addresses ascend (per-cpu
// symbols, small absolute values, come first).
func sorted(addrs []uint64) bool {
	return sort.SliceIsSorted(addrs, func(i, j int) bool { return addrs[i] < addrs[j] })
}
