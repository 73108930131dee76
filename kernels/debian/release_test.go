package debian

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/corematrix/corematrix/kernels/internal/fakearchive"
)

const releaseText = `Origin: Debian
Suite: oldstable
Codename: bookworm
Date: Sat, 11 Jul 2026 10:16:37 UTC
MD5Sum:
 0ed6d4c8891eb86358b94bb35d9e4da4  1484322 contrib/Contents-all
SHA256:
 515e692f2c4121c6fcec444ef100cc18f79a991910615f3a88c8b7becfc94d2f 50060337 main/binary-amd64/Packages
 9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5  8790396 main/binary-amd64/Packages.xz
`

func TestParseRelease(t *testing.T) {
	r, err := ParseRelease([]byte(releaseText))
	require.NoError(t, err)
	require.EqualValues(t, "oldstable", r.Suite, "ParseRelease = %+v", r)
	require.EqualValues(t, "bookworm", r.Codename, "ParseRelease = %+v", r)
	require.Len(t, r.SHA256, 2, "ParseRelease = %+v", r)
	want := FileHash{SHA256: "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5", Size: 8790396}
	got := r.SHA256["main/binary-amd64/Packages.xz"]
	require.Equal(t, want, got, "Packages.xz hash = %+v, want %+v", got, want)
	_, err = ParseRelease([]byte("Suite: x\n"))
	require.Error(t, err, "ParseRelease accepted a release without hashes")
}

func TestVerifyInRelease(t *testing.T) {
	good := fakearchive.NewKey(t)
	other := fakearchive.NewKey(t)
	keyring := openpgp.EntityList{good}
	signed := fakearchive.Sign(t, good, releaseText)
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"signed by the keyring", signed, true},
		{"signed by another key", fakearchive.Sign(t, other, releaseText), false},
		{"text altered after signing", bytes.Replace(signed, []byte("Codename: bookworm"), []byte("Codename: trixie"), 1), false},
		{"hash list altered after signing", bytes.Replace(signed, []byte("8790396"), []byte("8790397"), 1), false},
		{"not signed at all", []byte(releaseText), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text, signer, err := VerifyInRelease(tt.data, keyring)
			if tt.ok {
				require.NoError(t, err, "VerifyInRelease")
				require.Contains(t, string(text), "Codename: bookworm", "VerifyInRelease = signer %q, text %q", signer, text)
				require.Equal(t, good.PrimaryKey.KeyIdString(), signer, "VerifyInRelease = signer %q, text %q", signer, text)
				return
			}
			require.ErrorIs(t, err, ErrBadSignature, "VerifyInRelease = %v, want ErrBadSignature", err)
		})
	}
}

func TestReadKeyringSystem(t *testing.T) {
	kr, err := ReadKeyring(DefaultKeyring)
	if err != nil {
		t.Skipf("no Debian archive keyring installed: %v", err)
	}
	require.NotEmpty(t, kr, "%s holds no keys", DefaultKeyring)
}
