package ground

import (
	"fmt"
	"os"
)

// ExecFailedCode is the exit status of a gate whose execve failed or whose
// stdin closed before it was opened.
const ExecFailedCode = 98

// GateELF returns a static x86-64 executable that writes one byte to fd 1
// (saying its own execve is complete), blocks reading one byte from fd 0 and
// then execs argv[1] with argv[1:] and its own environment. A
// gate lets the harness learn a child's pid, add it to the tracer's targets,
// and only then let the child exec the workload, so the traced exec, and all
// that follows it, carries a tgid the filter already knows. The gate exits
// with ExecFailedCode if the read returns no byte or execve fails.
func GateELF() []byte {
	fail := exitSeq(ExecFailedCode)
	exec := []byte{
		0x48, 0x8b, 0x7c, 0x24, 0x10, // mov rdi, [rsp+16]          argv[1]
		0x48, 0x8d, 0x74, 0x24, 0x10, // lea rsi, [rsp+16]          &argv[1]
		0x48, 0x8d, 0x54, 0xdc, 0x10, // lea rdx, [rsp+rbx*8+16]    envp
		0xb8, 0x3b, 0, 0, 0, // mov eax, 59 (execve)
		0x0f, 0x05, // syscall
	}
	text := []byte{
		0x48, 0x8b, 0x1c, 0x24, // mov rbx, [rsp]          argc
		0x48, 0x8d, 0x74, 0x24, 0xf0, // lea rsi, [rsp-16] buffer below the stack
		0xbf, 0x01, 0, 0, 0, // mov edi, 1
		0xba, 0x01, 0, 0, 0, // mov edx, 1
		0xb8, 0x01, 0, 0, 0, // mov eax, 1 (write: "ready")
		0x0f, 0x05, // syscall
		0x31, 0xff, // xor edi, edi
		0xba, 0x01, 0, 0, 0, // mov edx, 1
		0x31, 0xc0, // xor eax, eax (read)
		0x0f, 0x05, // syscall
		0x85, 0xc0, // test eax, eax
		0x7e, byte(len(exec)), // jle fail
	}
	text = append(text, exec...)
	return elfFile(append(text, fail...))
}

// InstallGate writes the gate executable as dir/name (see Program.Install).
func InstallGate(dir, name string) (string, error) {
	return install(dir, name, GateELF())
}

// SpawnGated starts the gate at gate with stdin an empty pipe and target plus
// o.Args as its arguments, and returns once the gate said it is ready. The
// returned child has not exec'd target yet: its Pid is known, its comm is the
// gate's name, and its own execve, tracepoint included, is over (os/exec
// returns as soon as the exec commits, before the kernel's
// sched_process_exec tracepoint fires, so without this a pid targeted at once
// could report the gate's exec). Open lets it exec target.
// o.PipeStdin is implied; the target inherits the same stdin pipe, now empty.
func SpawnGated(gate, target string, o SpawnOptions) (*Child, error) {
	o.Args = append([]string{target}, o.Args...)
	o.PipeStdin = true
	o.ready = true
	c, err := Spawn(gate, o)
	if err != nil {
		return nil, err
	}
	c.Path = target
	return c, nil
}

// Open lets a gated child exec its target by writing the one byte its gate
// waits for.
func (c *Child) Open() error {
	if c.stdinW == nil {
		return fmt.Errorf("open gate of %d: stdin already released", c.Pid)
	}
	if _, err := c.stdinW.Write([]byte{1}); err != nil {
		return fmt.Errorf("open gate of %d: %w", c.Pid, err)
	}
	return nil
}

func install(dir, name string, elf []byte) (string, error) {
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	path := dir + "/" + name
	if err := os.WriteFile(path, elf, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	// WriteFile honours the umask; the mode must be exact.
	if err := os.Chmod(path, 0o755); err != nil {
		return "", fmt.Errorf("install %s: %w", name, err)
	}
	return path, nil
}
