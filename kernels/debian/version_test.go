package debian

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCompareVersions(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"6.1.176-1", "6.1.176-1", 0},
		{"6.1.176-1", "6.1.99-1", 1},
		{"6.1.10-1", "6.1.9-3", 1},
		{"6.12.41-1~bpo12+1", "6.12.41-1", -1},
		{"6.16.12-1~bpo13+1", "6.16.3-1~bpo13+1", 1},
		{"7.0.13-1~bpo13+1", "6.19.14-1~bpo13+1", 1},
		{"1:1.0-1", "2.0-1", 1},
		{"1.0~rc1-1", "1.0-1", -1},
		{"1.0a-1", "1.0-1", 1},
		{"1.0+b1", "1.0", 1},
		{"1.0", "1.0-0", 0},
		{"5.10.223-1", "5.10.237-1", -1},
		{"2.30-1", "2.3-1", 1},
		{"1.0.", "1.0", 1},
	}
	for _, tt := range tests {
		got := CompareVersions(tt.a, tt.b)
		assert.Equal(t, tt.want, got, "CompareVersions(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		got = CompareVersions(tt.b, tt.a)
		assert.Equal(t, -tt.want, got, "CompareVersions(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
	}
}

func TestUpstreamVersionAndLine(t *testing.T) {
	tests := []struct{ in, up, line string }{
		{"6.1.176-1", "6.1.176", "6.1"},
		{"6.16.12-1~bpo13+1", "6.16.12", "6.16"},
		{"7.2.13-1", "7.2.13", "7.2"},
		{"5.10.223-1", "5.10.223", "5.10"},
	}
	for _, tt := range tests {
		up := UpstreamVersion(tt.in)
		assert.Equal(t, tt.up, up, "UpstreamVersion(%q) = %q (line %q), want %q (%q)", tt.in, up, Line(up), tt.up, tt.line)
		assert.Equal(t, tt.line, Line(up), "UpstreamVersion(%q) = %q (line %q), want %q (%q)", tt.in, up, Line(up), tt.up, tt.line)
	}
}
