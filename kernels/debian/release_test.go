package debian

import (
	"bytes"
	"errors"
	"strings"
	"testing"

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
	if err != nil {
		t.Fatal(err)
	}
	if r.Suite != "oldstable" || r.Codename != "bookworm" || len(r.SHA256) != 2 {
		t.Fatalf("ParseRelease = %+v", r)
	}
	want := FileHash{SHA256: "9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5", Size: 8790396}
	if got := r.SHA256["main/binary-amd64/Packages.xz"]; got != want {
		t.Fatalf("Packages.xz hash = %+v, want %+v", got, want)
	}
	if _, err := ParseRelease([]byte("Suite: x\n")); err == nil {
		t.Fatal("ParseRelease accepted a release without hashes")
	}
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
				if err != nil {
					t.Fatalf("VerifyInRelease: %v", err)
				}
				if !strings.Contains(string(text), "Codename: bookworm") || signer != good.PrimaryKey.KeyIdString() {
					t.Fatalf("VerifyInRelease = signer %q, text %q", signer, text)
				}
				return
			}
			if !errors.Is(err, ErrBadSignature) {
				t.Fatalf("VerifyInRelease = %v, want ErrBadSignature", err)
			}
		})
	}
}

func TestReadKeyringSystem(t *testing.T) {
	kr, err := ReadKeyring(DefaultKeyring)
	if err != nil {
		t.Skipf("no Debian archive keyring installed: %v", err)
	}
	if len(kr) == 0 {
		t.Fatalf("%s holds no keys", DefaultKeyring)
	}
}
