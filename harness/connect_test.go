package harness

import (
	"fmt"
	"os"
	"testing"

	"github.com/corematrix/corematrix/harness/ground"
	"github.com/corematrix/corematrix/probes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConnect connects to a loopback listener over IPv4 and IPv6 and checks
// the connect event's family, addresses, ports, pid and return value against
// getsockname/getpeername of the connected socket.
func TestConnect(t *testing.T) {
	self := os.Getpid()
	hosts := []struct {
		host   string
		family uint16
	}{{"127.0.0.1", probes.AFInet}, {"::1", probes.AFInet6}}
	conns := make([]ground.Conn, len(hosts))
	forModes(t, func(t *testing.T, ss []*session) {
		for _, s := range ss {
			s.target(t, self)
		}
		for i, tc := range hosts {
			var err error
			conns[i], err = ground.DialLoopback(tc.host)
			require.NoError(t, err)
		}
	}, func(t *testing.T, s *session) {
		for i, tc := range hosts {
			conn := conns[i]
			t.Run(tc.host, func(t *testing.T) {
				ev := wait(t, s, self, "connect to "+conn.Remote.String(), func(e *probes.Connect) bool {
					return int(e.TGID) == self && e.Family == tc.family && e.Dst.Port() == conn.Remote.Port()
				})
				assert.Equal(t, conn.Local.String(), ev.Src.String(), "source (getsockname); event %s", ev)
				assert.Equal(t, conn.Remote.String(), ev.Dst.String(), "destination (getpeername); event %s", ev)
				assert.Zero(t, ev.Ret, "return value; event %s", ev)
				_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", ev.PID))
				assert.NoError(t, err, "event pid %d is not a thread of this process; event %s", ev.PID, ev)
				assert.Equal(t, wantCore(s.mode, probes.KindConnect), ev.Core, "core bits; event %s", ev)
			})
		}
	})
}
