package vmtest

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/term"
)

// relay connects the guest's shell port (QEMU's Unix socket for ttyS2) to
// the user's terminal.
type relay struct {
	conn    net.Conn
	in      *os.File
	out     io.Writer
	restore func()
	copied  chan struct{} // closed when the guest's output ends
	once    sync.Once

	mu      sync.Mutex
	started bool
	held    []byte // the last heldMax bytes the guest sent before start
}

// heldMax is how much of what the guest sends on the shell port before the
// host opened the shell is kept (the shell's banner, written just before
// it starts); everything before that is dropped.
const heldMax = 4 << 10

// dialRelay connects to QEMU's shell port, retrying while QEMU starts.
// What the guest writes there reaches out only after start (the host
// decided to open the shell): until then it is dropped, except the last
// heldMax bytes, shown when the shell opens (so its banner is not lost).
func dialRelay(sock string, in *os.File, out io.Writer, exited <-chan struct{}) (*relay, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			r := &relay{conn: conn, in: in, out: out, copied: make(chan struct{})}
			go func() {
				io.Copy(r, conn)
				close(r.copied)
			}()
			return r, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-exited:
			return nil, errors.New("qemu exited before its shell socket was ready")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Write receives the guest's bytes: held (the last heldMax) before start,
// passed to the terminal after.
func (r *relay) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return r.out.Write(p)
	}
	r.held = append(r.held, p...)
	if len(r.held) > heldMax {
		r.held = append(r.held[:0], r.held[len(r.held)-heldMax:]...)
	}
	return len(p), nil
}

// release shows what was held and lets the guest's bytes through.
func (r *relay) release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = true
	r.out.Write(r.held)
	r.held = nil
}

// start hands the terminal to the guest: raw mode (when In is a terminal)
// and every key typed goes to the shell.
func (r *relay) start() {
	r.release()
	if fd := int(r.in.Fd()); term.IsTerminal(fd) {
		if st, err := term.MakeRaw(fd); err == nil {
			r.restore = func() { term.Restore(fd, st) }
		}
	}
	go io.Copy(r.conn, r.in) // ends with the process (a read of stdin cannot be cancelled)
}

// stop waits briefly for the guest's last bytes, closes the connection and
// gives the terminal back.
func (r *relay) stop() {
	r.once.Do(func() {
		select {
		case <-r.copied:
		case <-time.After(time.Second):
		}
		r.conn.Close()
		if r.restore != nil {
			r.restore()
		}
	})
}
