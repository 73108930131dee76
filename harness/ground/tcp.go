package ground

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is the ground truth of one TCP connect: the client socket's own
// address (getsockname) and its peer (getpeername), both as the kernel holds
// them.
type Conn struct {
	Family int // unix.AF_INET or unix.AF_INET6
	Local  netip.AddrPort
	Remote netip.AddrPort
}

// DialLoopback listens on host (e.g. "127.0.0.1" or "::1") on an ephemeral
// port, connects to it from this process, reads both ends' addresses from the
// client socket with getsockname/getpeername, closes everything and returns
// them. The connect runs in this process, so its tgid is os.Getpid().
func DialLoopback(host string) (Conn, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return Conn{}, fmt.Errorf("listen %s: %w", host, err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		return Conn{}, fmt.Errorf("dial %s: %w", ln.Addr(), err)
	}
	defer c.Close()
	if s, ok := <-accepted; ok {
		defer s.Close()
	}
	raw, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return Conn{}, fmt.Errorf("dial %s: %w", ln.Addr(), err)
	}
	var out Conn
	var serr error
	err = raw.Control(func(fd uintptr) {
		var local, remote unix.Sockaddr
		if local, serr = unix.Getsockname(int(fd)); serr != nil {
			serr = fmt.Errorf("getsockname: %w", serr)
			return
		}
		if remote, serr = unix.Getpeername(int(fd)); serr != nil {
			serr = fmt.Errorf("getpeername: %w", serr)
			return
		}
		out.Family, out.Local = sockaddr(local)
		_, out.Remote = sockaddr(remote)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return Conn{}, fmt.Errorf("dial %s: %w", ln.Addr(), err)
	}
	return out, nil
}

func sockaddr(sa unix.Sockaddr) (int, netip.AddrPort) {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return unix.AF_INET, netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return unix.AF_INET6, netip.AddrPortFrom(netip.AddrFrom16(a.Addr), uint16(a.Port))
	}
	return 0, netip.AddrPort{}
}
