package kallsyms

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// arm64 Image header fields (Documentation/arch/arm64/booting.rst).
const (
	armMagicAt     = 56
	armMagic       = 0x644d5241 // "ARM\x64"
	armImageSizeAt = 16
	armHeaderSize  = 64
)

// ARM64Image is a decompressed arm64 kernel Image read without booting: its
// kallsyms, at the addresses the kernel was linked at, and the values of
// the pointers it stores.
//
// An Image is a raw binary loaded at its link address, the kernel's _text
// (KIMAGE_VADDR); nothing in it says that address. With
// CONFIG_RELOCATABLE every stored pointer is a dynamic relocation: Debian's
// 5.10 and 6.1 link with --no-apply-dynamic-relocs, so the pointers read
// zero in the image and their values are the addends of the .rela.dyn
// entries (R_AARCH64_RELATIVE) between __rela_start and __rela_end; newer
// kernels pack them as RELR, which keeps each value in place. NewARM64Image
// finds the RELA table by its shape (24-byte entries of type 1027), the link
// address as the one that puts every relocated place on a zero in the image
// (with RELA) or that makes sys_call_table point at function starts (in
// place), and checks the kallsyms it decodes against the header's
// image_size (_end - _text).
type ARM64Image struct {
	d    []byte
	size uint64 // image_size: _end - _text
	base uint64 // link address of the image's first byte (_text)
	// rela maps each relocated place to its value (link addresses), nil
	// when the values are in place.
	rela   map[uint64]uint64
	places []uint64 // the keys of rela, ascending
	table  *Table
}

// minRela is the fewest R_AARCH64_RELATIVE entries taken for the kernel's
// relocation table: a relocatable kernel has tens of thousands; one that
// keeps its values in place (RELR) has a handful RELR cannot express.
const minRela = 1024

// NewARM64Image reads the kallsyms of img, a decompressed arm64 Image.
func NewARM64Image(img []byte) (*ARM64Image, error) {
	if len(img) < armHeaderSize || binary.LittleEndian.Uint32(img[armMagicAt:]) != armMagic {
		return nil, fmt.Errorf("kallsyms: not an arm64 Image: %w", ErrNotFound)
	}
	im := &ARM64Image{d: img, size: binary.LittleEndian.Uint64(img[armImageSizeAt:])}
	if im.size < uint64(len(img)) {
		// image_size was 0 before 3.17; the file is a lower bound.
		im.size = uint64(len(img))
	}
	p := parser{d: img}
	if err := p.findNamesTable(); err != nil {
		return nil, err
	}
	names, types, err := p.decodeNames()
	if err != nil {
		return nil, err
	}
	if err := im.findRela(); err != nil {
		return nil, err
	}
	addrs, err := im.addresses(&p, names)
	if err != nil {
		return nil, err
	}
	im.table = &Table{Symbols: make([]Symbol, p.num)}
	for i := range p.num {
		im.table.Symbols[i] = Symbol{Name: names[i], Type: types[i], Addr: im.base + addrs[i]}
	}
	return im, nil
}

// Table returns the image's kallsyms, at link addresses.
func (im *ARM64Image) Table() *Table { return im.table }

// Base returns the link address of the image's start (_text).
func (im *ARM64Image) Base() uint64 { return im.base }

// findNamesTable runs the steps that do not depend on addresses.
func (p *parser) findNamesTable() error {
	if err := p.findTokens(); err != nil {
		return err
	}
	if err := p.findMarkers(); err != nil {
		return err
	}
	return p.findNames()
}

// rAArch64Relative is R_AARCH64_RELATIVE.
const rAArch64Relative = 1027

// findRela finds the longest run of Elf64_Rela entries of type
// R_AARCH64_RELATIVE; with minRela or more, the kernel's link address is
// the one that puts every place of the run on eight zero bytes.
func (im *ARM64Image) findRela() error {
	bestAt, bestN := 0, 0
	for at := 8; at+16 <= len(im.d); at += 8 {
		n := 0
		for q := at; q+16 <= len(im.d) && im.u64(q) == rAArch64Relative; q += 24 {
			n++
		}
		if n > bestN {
			bestAt, bestN = at-8, n
		}
		if n > 0 {
			at += 24*n - 8
		}
	}
	if bestN < minRela {
		return nil
	}
	im.rela = make(map[uint64]uint64, bestN)
	for k := range bestN {
		e := bestAt + 24*k
		im.rela[im.u64(e)] = im.u64(e + 16)
		im.places = append(im.places, im.u64(e))
	}
	slices.Sort(im.places)
	return im.relaBase()
}

// relaBase finds the link address from the RELA places: the one page
// boundary at which a sample of them all read zero inside the image.
func (im *ARM64Image) relaBase() error {
	lo, hi := im.places[0], im.places[len(im.places)-1]
	if hi-lo+8 > uint64(len(im.d)) {
		return fmt.Errorf("kallsyms: relocations span more than the image: %w", ErrNotFound)
	}
	var found []uint64
	for b := (hi + 8 - uint64(len(im.d)) + pageSize - 1) &^ (pageSize - 1); b <= lo; b += pageSize {
		ok := true
		for k := 0; k < len(im.places) && ok; k += 97 {
			off := im.places[k] - b
			ok = off+8 <= uint64(len(im.d)) && im.u64(int(off)) == 0
		}
		if ok {
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		return fmt.Errorf("kallsyms: link address from %d relocations: %d candidates: %w", len(im.places), len(found), ErrNotFound)
	}
	im.base = found[0]
	return nil
}

const pageSize = 4096

func (im *ARM64Image) u64(off int) uint64 { return binary.LittleEndian.Uint64(im.d[off:]) }

// pointer returns the value stored at link address addr: its RELA addend,
// or the eight bytes in place.
func (im *ARM64Image) pointer(addr uint64) (uint64, bool) {
	if im.rela != nil {
		if v, ok := im.rela[addr]; ok {
			return v, true
		}
	}
	off := addr - im.base
	if addr < im.base || off+8 > uint64(len(im.d)) {
		return 0, false
	}
	return im.u64(int(off)), true
}

// addresses returns the symbols' offsets from the image start (and sets
// im.base when no RELA table did): the first table layout whose addresses
// ascend, lie inside the image and put _text (when kallsyms has it) at 0
// and _end at image_size.
func (im *ARM64Image) addresses(p *parser, names []string) ([]uint64, error) {
	text := slices.Index(names, "_text")
	for _, c := range p.layouts() {
		rel, base, ok := im.decode(p, c, text)
		if !ok || !im.valid(rel, names, text) {
			continue
		}
		if im.rela != nil {
			return rel, nil
		}
		if base == 0 {
			if base, ok = im.voteBase(rel, names); !ok {
				continue
			}
		}
		im.base = base
		return rel, nil
	}
	return nil, fmt.Errorf("kallsyms: arm64 offsets: %w", ErrNotFound)
}

// decode reads layout c as offsets from the image start. base is the link
// address when the layout tells it, 0 otherwise.
func (im *ARM64Image) decode(p *parser, c layout, text int) (rel []uint64, base uint64, ok bool) {
	if c.base < 0 {
		// Place-relative: the image start is address 0 of p.
		return p.placeRelative(c.offsets), 0, true
	}
	off := p.addresses(c.offsets, 0, false)
	if im.rela != nil {
		b, ok := im.rela[im.base+uint64(c.base)]
		if !ok || b < im.base {
			return nil, 0, false
		}
		for i := range off {
			off[i] += b - im.base
		}
		return off, 0, true
	}
	b := p.u64(c.base)
	if text < 0 || b == 0 {
		return nil, 0, false
	}
	d := off[text]
	for i := range off {
		off[i] -= d
	}
	return off, b + d, true
}

// valid checks offsets from the image start against the header.
func (im *ARM64Image) valid(rel []uint64, names []string, text int) bool {
	if len(rel) == 0 || !sorted(rel) || rel[len(rel)-1] > im.size {
		return false
	}
	if text >= 0 && rel[text] != 0 {
		return false
	}
	if end := slices.Index(names, "_end"); end >= 0 && rel[end] != im.size {
		return false
	}
	return true
}

// segmentAlign is the least alignment of the arm64 kernel's link address
// (SEGMENT_ALIGN, 64 KiB).
const segmentAlign = 64 << 10

// voteBase finds the link address of an image whose pointers are in place
// from sys_call_table: its entries are function addresses, so the right
// base turns nearly all of them into function starts of kallsyms.
func (im *ARM64Image) voteBase(rel []uint64, names []string) (uint64, bool) {
	at := slices.Index(names, "sys_call_table")
	if at < 0 || at+1 >= len(rel) {
		return 0, false
	}
	n := min((rel[at+1]-rel[at])/8, maxSyscalls)
	if n == 0 || rel[at]+8*n > uint64(len(im.d)) {
		return 0, false
	}
	vals := make([]uint64, n)
	for i := range vals {
		vals[i] = im.u64(int(rel[at]) + 8*i)
	}
	starts := slices.Clone(rel)
	best, bestN := uint64(0), uint64(0)
	for b := (vals[0] - im.size + segmentAlign - 1) &^ (segmentAlign - 1); b <= vals[0]; b += segmentAlign {
		var hits uint64
		for _, v := range vals {
			if _, ok := slices.BinarySearch(starts, v-b); ok {
				hits++
			}
		}
		if hits > bestN {
			best, bestN = b, hits
		}
	}
	return best, bestN*10 >= n*9
}

// Funcs returns the image's functions and which of them ftrace can trace
// (see Funcs): the __mcount_loc records between __start_mcount_loc and
// __stop_mcount_loc when kallsyms has those (CONFIG_KALLSYMS_ALL), else
// the longest run of consecutive relocated places whose values are
// function entries; sys_call_table likewise, else the run whose values are
// all __arm64_sys_ functions. Traceable or Syscalls stay nil when the image
// does not tell.
func (im *ARM64Image) Funcs() *Funcs {
	t := im.table
	starts := t.textStarts()
	var s sites
	if start, stop := t.addr("__start_mcount_loc"), t.addr("__stop_mcount_loc"); start != 0 && stop > start {
		s.mcount = im.pointers(start, int((stop-start)/8))
	} else {
		s.mcount = im.relaRun(func(v uint64) bool { return siteKind(starts, v) != 0 }, 9)
	}
	if addr, n := t.array("sys_call_table"); addr != 0 {
		s.syscalls = im.pointers(addr, n)
	} else {
		s.syscalls = im.relaRun(im.isSyscall, 10)
	}
	s.adjust = preFunctionNops(starts, s.mcount)
	return t.funcs(s)
}

// pointers returns the n values at addr (0 for a place that has none).
func (im *ARM64Image) pointers(addr uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i], _ = im.pointer(addr + 8*uint64(i))
	}
	return out
}

// textStarts returns the addresses of t's text symbols, ascending.
func (t *Table) textStarts() []uint64 {
	var out []uint64
	for _, s := range t.Symbols {
		if s.IsText() {
			out = append(out, s.Addr)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// siteKind tells what an arm64 ftrace record at v is: 1 a function entry
// (-fpatchable-function-entry=2, with or without a BTI before the NOPs),
// 2 the first of two NOPs 8 bytes before one (=4,2:
// DYNAMIC_FTRACE_WITH_CALL_OPS, 6.4 on), 0 neither.
func siteKind(starts []uint64, v uint64) int {
	has := func(a uint64) bool { _, ok := slices.BinarySearch(starts, a); return ok }
	switch {
	case has(v) || has(v-4):
		return 1
	case has(v + 8):
		return 2
	}
	return 0
}

// preFunctionNops returns 8 when most records point 8 bytes before a
// function (the kernel's ftrace_call_adjust moves them onto it), else 0.
func preFunctionNops(starts, recs []uint64) uint64 {
	var n [3]int
	for _, v := range recs {
		n[siteKind(starts, v)]++
	}
	if n[2] > n[1] {
		return 8
	}
	return 0
}

// relaRun returns the values of the longest run of consecutive relocated
// places (8 bytes apart) of which at least tenths/10 satisfy ok; nil
// without a RELA table or such a run.
func (im *ARM64Image) relaRun(ok func(uint64) bool, tenths int) []uint64 {
	var best []uint64
	for i := 0; i < len(im.places); {
		j := i + 1
		for j < len(im.places) && im.places[j] == im.places[j-1]+8 {
			j++
		}
		if j-i > len(best) {
			vals := make([]uint64, 0, j-i)
			good := 0
			for _, p := range im.places[i:j] {
				v := im.rela[p]
				vals = append(vals, v)
				if ok(v) {
					good++
				}
			}
			if good*10 >= (j-i)*tenths {
				best = vals
			}
		}
		i = j
	}
	return best
}

// isSyscall reports whether v is the start of an __arm64_sys_ function
// (the native table's entries; the compat table's have __arm64_compat_sys_
// ones).
func (im *ARM64Image) isSyscall(v uint64) bool {
	syms := im.table.Symbols
	k := sort.Search(len(syms), func(j int) bool { return syms[j].Addr >= v })
	for ; k < len(syms) && syms[k].Addr == v; k++ {
		if syms[k].IsText() && strings.HasPrefix(syms[k].Name, "__arm64_sys_") {
			return true
		}
	}
	return false
}
