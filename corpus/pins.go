package corpus

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// Pin is one Debian package of the corpus.
type Pin struct {
	Suite   string
	Arch    string
	Name    string
	Version string
	SHA256  string
}

// String is the pin as pins.txt spells it.
func (p Pin) String() string {
	return strings.Join([]string{p.Suite, p.Arch, p.Name, p.Version, p.SHA256}, " ")
}

// Dir is the directory name of the pin's objects: name_version_arch, with
// the characters a version may carry that paths should not (':') replaced.
func (p Pin) Dir() string {
	return strings.NewReplacer(":", "_", "/", "_").Replace(p.Name + "_" + p.Version + "_" + p.Arch)
}

//go:embed pins.txt
var pinsText string

// Pins returns the committed pins (pins.txt).
func Pins() ([]Pin, error) {
	return ParsePins(strings.NewReader(pinsText))
}

var (
	wordRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9.+~:-]*$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// ParsePins reads pin lines: "SUITE ARCH PACKAGE VERSION SHA256"; blank
// lines and lines starting with # are skipped.
func ParsePins(r io.Reader) ([]Pin, error) {
	var out []Pin
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 5 {
			return nil, fmt.Errorf("pins line %d: want SUITE ARCH PACKAGE VERSION SHA256, got %d fields", n, len(f))
		}
		for _, w := range f[:4] {
			if !wordRE.MatchString(w) {
				return nil, fmt.Errorf("pins line %d: bad word %q", n, w)
			}
		}
		if !sha256RE.MatchString(f[4]) {
			return nil, fmt.Errorf("pins line %d: bad SHA-256 %q", n, f[4])
		}
		out = append(out, Pin{Suite: f[0], Arch: f[1], Name: f[2], Version: f[3], SHA256: f[4]})
	}
	return out, sc.Err()
}
