package ground

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Cred is the user and group a child runs as.
type Cred struct {
	UID, GID uint32
}

// DefaultCred is a non-root identity no real account uses, so an event carrying
// it can only come from the harness's own children.
var DefaultCred = Cred{UID: 4242, GID: 4343}

// Child is a running (or exited, not yet reaped) child process.
type Child struct {
	// Path is the file the kernel exec'd: the filename an exec event reports.
	Path string
	Pid  int
	cmd  *exec.Cmd
	// stdinW is the write end of the child's stdin pipe, when it has one.
	stdinW *os.File
}

// SpawnOptions configure Spawn.
type SpawnOptions struct {
	// Args are the arguments after argv[0] (which is Path).
	Args []string
	// Cred, when non-nil, is the identity the child runs as; its supplementary
	// groups are cleared.
	Cred *Cred
	// PipeStdin gives the child an empty pipe as stdin whose write end stays
	// open until Release or Wait.
	PipeStdin bool
	// ready makes Spawn wait for one byte on the child's stdout.
	ready bool
}

// readyTimeout bounds the wait for a gate's ready byte.
const readyTimeout = time.Minute

// Spawn execs path. It returns once the exec succeeded, so the child's comm is
// already the basename of path.
func Spawn(path string, o SpawnOptions) (*Child, error) {
	cmd := exec.Command(path, o.Args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	if o.Cred != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{
			Uid: o.Cred.UID, Gid: o.Cred.GID, Groups: []uint32{},
		}
	}
	c := &Child{Path: path, cmd: cmd}
	if o.PipeStdin {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("spawn %s: %w", path, err)
		}
		defer r.Close()
		cmd.Stdin = r
		c.stdinW = w
	}
	var readyR, readyW *os.File
	if o.ready {
		var err error
		if readyR, readyW, err = os.Pipe(); err != nil {
			c.Release()
			return nil, fmt.Errorf("spawn %s: %w", path, err)
		}
		defer readyR.Close()
		cmd.Stdout = readyW
	}
	err := cmd.Start()
	if readyW != nil {
		// Only the child holds the write end now: its exit means EOF.
		readyW.Close()
	}
	if err != nil {
		c.Release()
		return nil, fmt.Errorf("spawn %s: %w", path, err)
	}
	c.Pid = cmd.Process.Pid
	if readyR != nil {
		_ = readyR.SetReadDeadline(time.Now().Add(readyTimeout))
		if _, err := io.ReadFull(readyR, make([]byte, 1)); err != nil {
			c.Kill()
			return nil, fmt.Errorf("spawn %s: wait for ready byte: %w", path, err)
		}
	}
	return c, nil
}

// Release closes the write end of the child's stdin pipe, waking a child
// blocked reading it.
func (c *Child) Release() {
	if c.stdinW != nil {
		c.stdinW.Close()
		c.stdinW = nil
	}
}

// Wait releases the child, reaps it and returns its exit code.
func (c *Child) Wait() (int, error) {
	c.Release()
	err := c.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return -1, fmt.Errorf("wait %d: %w", c.Pid, err)
	}
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Exited() {
		return -1, fmt.Errorf("wait %d: child did not exit normally: %s", c.Pid, c.cmd.ProcessState)
	}
	return ws.ExitStatus(), nil
}

// Kill kills and reaps the child, for cleanup.
func (c *Child) Kill() {
	c.Release()
	if c.cmd.ProcessState == nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}

// ChildDir creates a directory for child executables under the system temp
// directory, searchable by every user (t.TempDir's parents are not), and
// returns it with a function that removes it.
func ChildDir() (string, func(), error) {
	dir, err := os.MkdirTemp("", "cm-")
	if err != nil {
		return "", nil, fmt.Errorf("child dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("child dir: %w", err)
	}
	return dir, func() { os.RemoveAll(dir) }, nil
}
