package debian

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
)

// DefaultKeyring is where the debian-archive-keyring package installs the
// archive's signing keys.
const DefaultKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// ErrBadSignature is returned when an InRelease file is not signed by a key
// of the keyring.
var ErrBadSignature = errors.New("InRelease signature does not verify")

// Release is the part of a suite's InRelease file this package uses.
type Release struct {
	Suite    string
	Codename string
	Date     string
	// AcquireByHash is set when the suite serves its indices under
	// by-hash/SHA256/<sum> too (the "Acquire-By-Hash: yes" field): such a
	// path names exactly the file InRelease lists, so a mirror caught in the
	// middle of an update cannot hand out a newer index than the one signed.
	AcquireByHash bool
	// SHA256 maps an index path relative to the suite directory (e.g.
	// "main/binary-amd64/Packages.xz") to its expected hash and size.
	SHA256 map[string]FileHash
	// Signer is the key ID that verified the file, empty when unverified.
	Signer string
}

// FileHash is the expected SHA-256 and size of a file.
type FileHash struct {
	SHA256 string
	Size   int64
}

// ReadKeyring reads an OpenPGP keyring, binary or ASCII-armored.
func ReadKeyring(path string) (openpgp.EntityList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN PGP")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(data))
}

// VerifyInRelease checks the clear-signed InRelease data against keyring and
// returns the signed text. The archive signs with several keys; one
// good signature by a key of the keyring is enough.
func VerifyInRelease(data []byte, keyring openpgp.EntityList) ([]byte, string, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, "", fmt.Errorf("%w: not a clear-signed message", ErrBadSignature)
	}
	signer, err := block.VerifySignature(keyring, nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	id := ""
	if signer != nil && signer.PrimaryKey != nil {
		id = signer.PrimaryKey.KeyIdString()
	}
	return block.Plaintext, id, nil
}

// UnsignedInRelease returns the text of a clear-signed message without
// checking its signature. It is used only when no keyring is installed.
func UnsignedInRelease(data []byte) ([]byte, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, errors.New("not a clear-signed message")
	}
	return block.Plaintext, nil
}

// ParseRelease parses the (verified) text of a Release file.
func ParseRelease(text []byte) (*Release, error) {
	r := &Release{SHA256: map[string]FileHash{}}
	d := newDeb822(bytes.NewReader(text), false)
	for {
		kind, k, v, err := d.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch {
		case kind == deb822Continuation && strings.EqualFold(k, "SHA256"):
			if err := r.addHash(v); err != nil {
				return nil, err
			}
		case kind == deb822Field:
			r.set(strings.ToLower(k), v)
		}
	}
	if len(r.SHA256) == 0 {
		return nil, errors.New("release file lists no SHA256 hashes")
	}
	return r, nil
}

// set sets the field k (lower case) of r to v.
func (r *Release) set(k, v string) {
	switch k {
	case "suite":
		r.Suite = v
	case "codename":
		r.Codename = v
	case "date":
		r.Date = v
	case "acquire-by-hash":
		r.AcquireByHash = strings.EqualFold(v, "yes")
	}
}

// addHash adds one line of the SHA256 field: hash, size, path.
func (r *Release) addHash(line string) error {
	f := strings.Fields(line)
	if len(f) != 3 {
		return fmt.Errorf("bad SHA256 line %q", line)
	}
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || size < 0 || len(f[0]) != 64 {
		return fmt.Errorf("bad SHA256 line %q", line)
	}
	r.SHA256[f[2]] = FileHash{SHA256: f[0], Size: size}
	return nil
}
