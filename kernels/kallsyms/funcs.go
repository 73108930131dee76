package kallsyms

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Funcs is what a kernel offers kprobes and BPF trampolines: every function
// symbol of kallsyms, with how many symbols share its name, and whether
// ftrace records a call site at its start (it is in
// available_filter_functions, so fentry, fexit and kprobe_multi can attach).
type Funcs struct {
	// Count is the number of kallsyms text symbols per name (static
	// functions of different files may share one).
	Count map[string]int
	// Traceable holds the functions with an ftrace call site, nil when the
	// image has no __mcount_loc (a kernel without CONFIG_FUNCTION_TRACER).
	Traceable map[string]bool
	// Syscalls holds the functions the native system call table
	// (sys_call_table) points to, e.g. __x64_sys_read: the syscalls ftrace
	// makes sys_enter_/sys_exit_ events of. Nil when the image has no such
	// table.
	Syscalls map[string]bool
}

// FuncsFormat names the text format of MarshalText, for caches: it changes
// whenever the format or what FuncsOf reads does.
const FuncsFormat = "funcs-v2"

// maxFentryOffset bounds how far into a function its ftrace call site may
// be: the call is the first instruction, after an ENDBR64 (4 bytes) with
// CONFIG_X86_KERNEL_IBT. A record further in belongs to no function (the
// kernel skips such records: an overridden weak function's leftovers).
const maxFentryOffset = 16

// FuncsOf returns the functions of the x86-64 vmlinux ELF image whose
// kallsyms t holds, and which of them ftrace can trace: the call sites
// listed between __start_mcount_loc and __stop_mcount_loc (8-byte
// addresses), each assigned to the function it starts. Records in
// .init.text are left out: the kernel frees that code after boot.
func FuncsOf(vmlinux []byte, t *Table) (*Funcs, error) {
	f, err := elf.NewFile(bytes.NewReader(vmlinux))
	if err != nil {
		return nil, fmt.Errorf("kallsyms functions: not an ELF: %w", err)
	}
	mem := elfMemory{f}
	var s sites
	if addr, n := t.array("sys_call_table"); addr != 0 {
		if s.syscalls, err = mem.pointers(addr, n); err != nil {
			return nil, fmt.Errorf("sys_call_table: %w", err)
		}
	}
	if start, stop := t.addr("__start_mcount_loc"), t.addr("__stop_mcount_loc"); start != 0 && stop > start {
		if s.mcount, err = mem.pointers(start, int((stop-start)/8)); err != nil {
			return nil, fmt.Errorf("mcount: %w", err)
		}
	}
	return t.funcs(s), nil
}

// sites is what an image says of its functions beyond kallsyms.
type sites struct {
	// mcount holds ftrace's call-site records (__mcount_loc), nil when
	// the image has none.
	mcount []uint64
	// adjust is added to a record to reach the instruction ftrace
	// patches (arm64 with pre-function NOPs records the first of those,
	// 8 bytes before the function).
	adjust uint64
	// syscalls holds the entries of sys_call_table, nil when unknown.
	syscalls []uint64
}

// funcs assigns the call sites of s to the text symbols of t.
func (t *Table) funcs(s sites) *Funcs {
	fs := &Funcs{Count: map[string]int{}}
	var text []Symbol
	for _, sym := range t.Symbols {
		if sym.IsText() {
			fs.Count[sym.Name]++
			text = append(text, sym)
		}
	}
	if s.syscalls != nil {
		fs.Syscalls = map[string]bool{}
		for _, ip := range s.syscalls {
			k := sort.Search(len(text), func(j int) bool { return text[j].Addr >= ip })
			for ; k < len(text) && text[k].Addr == ip; k++ {
				fs.Syscalls[text[k].Name] = true
			}
		}
	}
	if s.mcount == nil {
		return fs
	}
	initStart, initEnd := t.addr("_sinittext"), t.addr("_einittext")
	fs.Traceable = map[string]bool{}
	for _, rec := range s.mcount {
		ip := rec + s.adjust
		if rec == 0 || (ip >= initStart && ip < initEnd) {
			continue
		}
		k := sort.Search(len(text), func(j int) bool { return text[j].Addr > ip }) - 1
		if k < 0 || ip-text[k].Addr > maxFentryOffset {
			continue
		}
		// Several symbols may share the address (aliases): all are traceable.
		for j := k; j >= 0 && text[j].Addr == text[k].Addr; j-- {
			fs.Traceable[text[j].Name] = true
		}
	}
	return fs
}

// maxSyscalls bounds the entries read from sys_call_table.
const maxSyscalls = 2048

// addr returns the address of the first symbol called name, 0 if none is.
func (t *Table) addr(name string) uint64 {
	for _, s := range t.Symbols {
		if s.Name == name {
			return s.Addr
		}
	}
	return 0
}

// array returns the address of the symbol called name and how many 8-byte
// entries fit before the next symbol's address (at most maxSyscalls).
func (t *Table) array(name string) (uint64, int) {
	for i, s := range t.Symbols {
		if s.Name != name {
			continue
		}
		for _, n := range t.Symbols[i+1:] {
			if n.Addr > s.Addr {
				return s.Addr, int(min((n.Addr-s.Addr)/8, maxSyscalls))
			}
		}
		return 0, 0
	}
	return 0, 0
}

// elfMemory reads a vmlinux ELF's contents by virtual address.
type elfMemory struct{ f *elf.File }

// pointers returns the n 8-byte values at addr.
func (m elfMemory) pointers(addr uint64, n int) ([]uint64, error) {
	raw, err := readAt(m.f, addr, uint64(n)*8)
	if err != nil {
		return nil, err
	}
	out := make([]uint64, n)
	for i := range out {
		out[i] = binary.LittleEndian.Uint64(raw[8*i:])
	}
	return out, nil
}

// readAt reads size bytes at virtual address addr of f.
func readAt(f *elf.File, addr, size uint64) ([]byte, error) {
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS || addr < s.Addr || addr+size > s.Addr+s.Size {
			continue
		}
		buf := make([]byte, size)
		if _, err := s.ReadAt(buf, int64(addr-s.Addr)); err != nil {
			return nil, fmt.Errorf("read %#x in %s: %w", addr, s.Name, err)
		}
		return buf, nil
	}
	return nil, fmt.Errorf("no section holds %#x..%#x", addr, addr+size)
}

// ImageFuncs is Parse and FuncsOf together: the functions of a vmlinux image.
func ImageFuncs(vmlinux []byte) (*Funcs, error) {
	t, err := Parse(vmlinux)
	if err != nil {
		return nil, err
	}
	return FuncsOf(vmlinux, t)
}

// MarshalText writes fs one function a line, "T name" for a traceable one,
// "t name" otherwise, a name repeated once per symbol, and "S name" for each
// function of the system call table; a first line "# no mcount" says the
// image had no __mcount_loc.
func (fs *Funcs) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	if fs.Traceable == nil {
		b.WriteString("# no mcount\n")
	}
	names := make([]string, 0, len(fs.Count))
	for n := range fs.Count {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range sortedSet(fs.Syscalls) {
		b.WriteString("S " + n + "\n")
	}
	for _, n := range names {
		c := byte('t')
		if fs.Traceable[n] {
			c = 'T'
		}
		for range fs.Count[n] {
			b.WriteByte(c)
			b.WriteByte(' ')
			b.WriteString(n)
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}

// UnmarshalText reads what MarshalText wrote.
func (fs *Funcs) UnmarshalText(data []byte) error {
	fs.Count = map[string]int{}
	fs.Traceable = map[string]bool{}
	fs.Syscalls = nil
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if l == "# no mcount" && line == 1 {
			fs.Traceable = nil
			continue
		}
		kind, name, ok := strings.Cut(l, " ")
		if !ok || name == "" || (kind != "T" && kind != "t" && kind != "S") {
			return fmt.Errorf("funcs line %d: malformed %s", line, strconv.Quote(l))
		}
		if kind == "S" {
			if fs.Syscalls == nil {
				fs.Syscalls = map[string]bool{}
			}
			fs.Syscalls[name] = true
			continue
		}
		fs.Count[name]++
		if kind == "T" && fs.Traceable != nil {
			fs.Traceable[name] = true
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("funcs: %w", err)
	}
	return nil
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
