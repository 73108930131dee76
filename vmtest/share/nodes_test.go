package share

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStaticNodes(t *testing.T) {
	alias := []byte(`# Aliases extracted from modules themselves.
alias devname:fuse fuse
alias char-major-10-229 fuse
alias fs-fuse fuse
alias devname:net/tun tun
alias char-major-10-200 tun
alias devname:loop-control loop
alias char-major-10-237 loop
alias block-major-7-* loop
alias devname:nbd0 nbd
alias block-major-43-0 nbd
alias devname:only-name nomajor
alias char-major-10-1 nodevname
alias devname:../etc/passwd evil
alias char-major-1-1 evil
alias devname:/abs abs
alias char-major-1-2 abs
alias broken line here and more
`)
	assert.Equal(t, []Node{
		{Name: "fuse", Major: 10, Minor: 229},
		{Name: "loop-control", Major: 10, Minor: 237},
		{Name: "nbd0", Block: true, Major: 43, Minor: 0},
		{Name: "net/tun", Major: 10, Minor: 200},
	}, StaticNodes(alias), "block-major-7-* has no minor: loop-control keeps its char node")
	assert.Empty(t, StaticNodes(nil))
}
