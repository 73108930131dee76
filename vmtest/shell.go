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
	restore func()
	copied  chan struct{} // closed when the guest's output ends
	once    sync.Once
}

// dialRelay connects to QEMU's shell socket, retrying while QEMU starts,
// and copies what the guest writes to out right away (so the shell's first
// bytes are never lost).
func dialRelay(sock string, in *os.File, out io.Writer, exited <-chan struct{}) (*relay, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			r := &relay{conn: conn, in: in, copied: make(chan struct{})}
			go func() {
				io.Copy(out, conn)
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

// start hands the terminal to the guest: raw mode (when In is a terminal)
// and every key typed goes to the shell.
func (r *relay) start() {
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
