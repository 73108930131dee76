// Package hang holds tests that never end, for the go test -timeout paths
// of TestE2EShareGoTestTimeout (each is selected with -run).
package hang

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestSleeps hangs in a way the test binary's own deadline ends: its
// -test.timeout alarm panics in the guest.
func TestSleeps(t *testing.T) {
	fmt.Println("hanging")
	time.Sleep(time.Hour)
}

// TestStopped stops its own process, so no alarm of the test binary fires:
// only go test's kill (SIGQUIT to the -exec program, a minute past
// -timeout) ends it.
func TestStopped(t *testing.T) {
	fmt.Println("hanging")
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Hour)
}
