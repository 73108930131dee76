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
func GateELF() []byte { return gate.ELF() }

var gate = Program{
	Steps: []Step{
		WriteStdout(), // "ready"
		ReadStdin().OrExitUnlessPositive(ExecFailedCode),
		ExecArg(1),
	},
	Code: ExecFailedCode, // execve returned
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
