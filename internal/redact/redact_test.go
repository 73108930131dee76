package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestURLs(t *testing.T) {
	for in, want := range map[string]string{
		"no url here":                   "no url here",
		"user@example.com":              "user@example.com",
		"https://mirror.example/debian": "https://mirror.example/debian",
		`get "https://u:p%40ss@m.example/d/InRelease": 401`:         `get "https://***@m.example/d/InRelease": 401`,
		"proxy=http://tok@p.example:3128 and https://a:b@c.example": "proxy=http://***@p.example:3128 and https://***@c.example",
		"https://m.example/path@v1":                                 "https://m.example/path@v1",
	} {
		assert.Equal(t, want, URLs(in), "URLs(%q)", in)
	}
	assert.Equal(t, "https://m.example/x", Userinfo("https://u:p@m.example/x"))
	assert.Equal(t, "https://m.example/x@y", Userinfo("https://m.example/x@y"))
	assert.Equal(t, "off", Userinfo("off"))
}
