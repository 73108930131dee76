package probes

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzDecode feeds arbitrary records to the event decoder: it must return
// an event or an ErrTruncated/ErrUnknownKind error, never panic, and leave
// the record unchanged on error.
func FuzzDecode(f *testing.F) {
	for _, rt := range roundTrips(f) {
		f.Add(rt.raw)
		f.Add(rt.raw[:len(rt.raw)/2])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var r Record
		before := r
		err := Decode(raw, &r)
		if err != nil {
			require.False(t, !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrUnknownKind), "Decode(%x) = %v, want ErrTruncated or ErrUnknownKind", raw, err)
			require.Equal(t, before, r, "Decode(%x) failed but changed the record", raw)
			return
		}
		_, err = DecodeEvent(raw)
		require.NoError(t, err, "Decode accepted %x, DecodeEvent did not", raw)
	})
}
