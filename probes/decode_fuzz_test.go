package probes

import (
	"errors"
	"testing"
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
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrUnknownKind) {
				t.Fatalf("Decode(%x) = %v, want ErrTruncated or ErrUnknownKind", raw, err)
			}
			if r != before {
				t.Fatalf("Decode(%x) failed but changed the record", raw)
			}
			return
		}
		if _, err := DecodeEvent(raw); err != nil {
			t.Fatalf("Decode accepted %x, DecodeEvent did not: %v", raw, err)
		}
	})
}
