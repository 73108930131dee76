package ground

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"path/filepath"
)

// Program is the behaviour of a tiny child: a few x86-64 instructions that
// make raw system calls and then exit_group with a chosen code. Children are
// single-threaded static ELF files of a few hundred bytes, so an exec storm of
// thousands of them stays cheap even under an emulated CPU, and each child's
// pid equals its tgid.
type Program struct {
	// Code is the exit status the child passes to exit_group.
	Code uint8
	// BlockOnStdin makes the child read one byte from fd 0 before exiting.
	// With an empty pipe as stdin it sleeps in TASK_INTERRUPTIBLE until the
	// write end closes.
	BlockOnStdin bool
	// OpenArg1 makes the child open(argv[1], O_RDONLY) and close it before
	// exiting; if an open fails the child exits with OpenFailedCode instead of
	// Code.
	OpenArg1 bool
	// Opens is how many times an OpenArg1 child opens and closes argv[1]
	// (once when 0): a burst of vfs_open calls from one process, a syscall
	// apart, that costs microseconds each even under an emulated CPU.
	Opens uint32
}

// OpenFailedCode is the exit status of an OpenArg1 child whose open failed.
const OpenFailedCode = 99

const (
	elfBase    = 0x400000
	elfHdrSize = 64
	phdrSize   = 56
)

// exitSeq is: mov edi, code; mov eax, 231 (exit_group); syscall.
func exitSeq(code uint8) []byte {
	return []byte{0xbf, code, 0, 0, 0, 0xb8, 0xe7, 0, 0, 0, 0x0f, 0x05}
}

// Text returns the machine code of p.
func (p Program) Text() []byte {
	var b []byte
	if p.BlockOnStdin {
		b = append(b,
			0x31, 0xff, // xor edi, edi        (fd 0)
			0x48, 0x89, 0xe6, // mov rsi, rsp  (buffer: top of stack)
			0xba, 0x01, 0, 0, 0, // mov edx, 1
			0x31, 0xc0, // xor eax, eax        (read)
			0x0f, 0x05, // syscall
		)
	}
	if p.OpenArg1 {
		n := max(p.Opens, 1)
		fail := exitSeq(OpenFailedCode)
		b = append(b, 0x41, 0xbc, byte(n), byte(n>>8), byte(n>>16), byte(n>>24)) // mov r12d, n
		loop := len(b)
		b = append(b,
			0x48, 0x8b, 0x7c, 0x24, 0x10, // mov rdi, [rsp+16] (argv[1])
			0x31, 0xf6, // xor esi, esi (O_RDONLY)
			0xb8, 0x02, 0, 0, 0, // mov eax, 2 (open)
			0x0f, 0x05, // syscall
			0x85, 0xc0, // test eax, eax
		)
		// js fail: over the close, the loop tail and the exit sequence.
		const closeAndLoop = 2 + 5 + 2 + 3 + 2
		b = append(b, 0x78, byte(closeAndLoop+len(exitSeq(0))))
		b = append(b,
			0x89, 0xc7, // mov edi, eax (the fd)
			0xb8, 0x03, 0, 0, 0, // mov eax, 3 (close)
			0x0f, 0x05, // syscall
			0x41, 0xff, 0xcc, // dec r12d
		)
		b = append(b, 0x75, byte(loop-(len(b)+2))) // jnz loop
		b = append(b, exitSeq(p.Code)...)
		return append(b, fail...)
	}
	return append(b, exitSeq(p.Code)...)
}

// ELF returns a complete static x86-64 executable running p.
func (p Program) ELF() []byte { return elfFile(p.Text()) }

// elfFile wraps text in an ELF header and one PT_LOAD segment mapping the
// whole file read+execute at elfBase, entry right after the headers.
func elfFile(text []byte) []byte {
	size := uint64(elfHdrSize + phdrSize + len(text))
	var b bytes.Buffer
	le := binary.LittleEndian
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	w := func(v any) { _ = binary.Write(&b, le, v) }
	w(uint16(2))                               // e_type: ET_EXEC
	w(uint16(0x3e))                            // e_machine: x86-64
	w(uint32(1))                               // e_version
	w(uint64(elfBase + elfHdrSize + phdrSize)) // e_entry
	w(uint64(elfHdrSize))                      // e_phoff
	w(uint64(0))                               // e_shoff
	w(uint32(0))                               // e_flags
	w(uint16(elfHdrSize))                      // e_ehsize
	w(uint16(phdrSize))                        // e_phentsize
	w(uint16(1))                               // e_phnum
	w(uint16(0))                               // e_shentsize
	w(uint16(0))                               // e_shnum
	w(uint16(0))                               // e_shstrndx
	w(uint32(1))                               // p_type: PT_LOAD
	w(uint32(5))                               // p_flags: R+X
	w(uint64(0))                               // p_offset
	w(uint64(elfBase))                         // p_vaddr
	w(uint64(elfBase))                         // p_paddr
	w(size)                                    // p_filesz
	w(size)                                    // p_memsz
	w(uint64(0x1000))                          // p_align
	b.Write(text)
	return b.Bytes()
}

// Install writes p as an executable named name (the basename the kernel will
// use for comm) into dir, readable and executable by every user, and returns
// its absolute path. dir itself is made searchable by every user so that
// children running under a non-root uid can exec it.
func (p Program) Install(dir, name string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	return install(abs, name, p.ELF())
}
