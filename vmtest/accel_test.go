package vmtest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAccelChooserIncapableWarnsOnce(t *testing.T) {
	var mu sync.Mutex
	var warnings []string
	c, err := newAccelChooser(AccelAuto, func(s string) { mu.Lock(); warnings = append(warnings, s); mu.Unlock() })
	require.NoError(t, err)
	c.capable = func() error { return errors.New("the CPU flags show neither vmx nor svm") }
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			a, probe, err := c.acquire(context.Background())
			require.NoError(t, err)
			require.False(t, probe)
			require.Equal(t, AccelTCG, a)
		})
	}
	wg.Wait()
	require.Len(t, warnings, 1, "warnings: %q", warnings)
	require.Contains(t, warnings[0], "neither vmx nor svm")
}

func TestAccelChooserProbe(t *testing.T) {
	for _, works := range []bool{true, false} {
		var warnings []string
		c, err := newAccelChooser(AccelAuto, func(s string) { warnings = append(warnings, s) })
		require.NoError(t, err)
		c.capable = func() error { return nil }
		a, probe, err := c.acquire(context.Background())
		require.NoError(t, err)
		require.True(t, probe)
		require.Equal(t, AccelKVM, a)

		// A second kernel waits for the probe's verdict.
		got := make(chan string)
		go func() {
			a, probe, _ := c.acquire(context.Background())
			require.False(t, probe)
			got <- a
		}()
		c.settle(works)
		want := AccelTCG
		if works {
			want = AccelKVM
		}
		require.Equal(t, want, <-got)
		require.Equal(t, !works, len(warnings) == 1, "warnings %q", warnings)
	}
}

func TestAccelChooserForced(t *testing.T) {
	for _, mode := range []string{AccelKVM, AccelTCG} {
		c, err := newAccelChooser(mode, func(string) { require.Fail(t, "no warning expected") })
		require.NoError(t, err)
		c.capable = func() error { require.Fail(t, "forced mode must not probe"); return nil }
		a, probe, err := c.acquire(context.Background())
		require.NoError(t, err)
		require.False(t, probe)
		require.Equal(t, mode, a)
	}
	_, err := newAccelChooser("hvf", nil)
	require.Error(t, err)
}
