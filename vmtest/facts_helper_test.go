package vmtest

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/corematrix/corematrix/vmtest/wire"
)

// withFacts inserts a facts section after the payload section of a recorded
// stream, as the guest init writes it when $CM_FACTS exists.
func withFacts(t *testing.T, stream []byte, facts string) []byte {
	t.Helper()
	at := bytes.Index(stream, []byte(wire.Prefix+"begin "+wire.SectionKmsg))
	require.False(t, at < 0, "recorded stream has no kmsg section")
	var b bytes.Buffer
	b.Write(stream[:at])
	s, err := wire.NewWriter(&b).Begin(wire.SectionFacts)
	require.NoError(t, err)
	s.Write([]byte(facts))
	s.End(0, "")
	b.Write(stream[at:])
	return b.Bytes()
}
