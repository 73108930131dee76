package debian

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const packagesText = `Package: linux-image-6.1.0-50-cloud-amd64
Source: linux-signed-amd64 (6.1.176+1)
Version: 6.1.176-1
Architecture: amd64
Description: Linux 6.1 for x86-64 cloud (signed)
 a continuation line: with a colon
Filename: pool/main/l/linux-signed-amd64/linux-image-6.1.0-50-cloud-amd64_6.1.176-1_amd64.deb
Size: 26484304
SHA256: efe19f605b6f54a8352e68d85a629abb2d30b72a085faef603a9152590baa791

Package: bash
Version: 5.2.15-2+b2
Filename: pool/main/b/bash/bash_5.2.15-2+b2_amd64.deb
Size: 1491548
SHA256: 0000000000000000000000000000000000000000000000000000000000000000

Package: linux-image-cloud-amd64
Version: 6.1.176-1
Depends: linux-image-6.1.0-50-cloud-amd64 (= 6.1.176-1)
Filename: pool/main/l/linux-signed-amd64/linux-image-cloud-amd64_6.1.176-1_amd64.deb
Size: 1484
SHA256: 1111111111111111111111111111111111111111111111111111111111111111
`

func TestParsePackages(t *testing.T) {
	got, err := ParsePackages(strings.NewReader(packagesText), KeepIndexEntry)
	require.NoError(t, err)
	want := []Package{
		{Name: "linux-image-6.1.0-50-cloud-amd64", Version: "6.1.176-1", Source: "linux-signed-amd64 (6.1.176+1)",
			Filename: "pool/main/l/linux-signed-amd64/linux-image-6.1.0-50-cloud-amd64_6.1.176-1_amd64.deb",
			Size:     26484304, SHA256: "efe19f605b6f54a8352e68d85a629abb2d30b72a085faef603a9152590baa791"},
		{Name: "linux-image-cloud-amd64", Version: "6.1.176-1", Depends: "linux-image-6.1.0-50-cloud-amd64 (= 6.1.176-1)",
			Filename: "pool/main/l/linux-signed-amd64/linux-image-cloud-amd64_6.1.176-1_amd64.deb",
			Size:     1484, SHA256: "1111111111111111111111111111111111111111111111111111111111111111"},
	}
	require.Equal(t, want, got, "ParsePackages =\n%+v\nwant\n%+v", got, want)
	all, err := ParsePackages(strings.NewReader(packagesText), nil)
	require.NoError(t, err, "ParsePackages(no filter) = %d stanzas, %v; want 3", len(all), err)
	require.Len(t, all, 3, "ParsePackages(no filter) = %d stanzas, %v; want 3", len(all), err)
}

func TestParsePackagesErrors(t *testing.T) {
	for _, in := range []string{
		"Package: x\nVersion: 1\n\n",                       // no Filename
		"Package: x\nVersion: 1\nFilename: f\nSize: big\n", // bad size
		"Package x\n", // not a field
	} {
		p, err := ParsePackages(strings.NewReader(in), nil)
		assert.Error(t, err, "ParsePackages(%q) = %+v, want an error", in, p)
	}
}
