package report

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/corematrix/corematrix/kernel"
)

func TestMarkdownArgs(t *testing.T) {
	s := Summary{Kernels: []KernelResult{{Kernel: kernel.Kernel{Name: "6.1"}, Outcome: Pass}}}
	assert.NotContains(t, Markdown(s), "Arguments read", "no section without a core object")

	s.Args = &Args{Summary: "argument types stable across 5.10..latest (6 reads)"}
	md := Markdown(s)
	assert.Contains(t, md, "### Arguments read by the probes\n\nargument types stable across 5.10..latest (6 reads)\n\n")

	s.Args = &Args{Summary: "argument DRIFT across 5.10..6.1: 1 of 1 reads change type (see below)", Drift: 1, Notes: []string{
		"unlink DRIFT: kprobe vfs_unlink arg 2 via ctx+104 (si): struct dentry * (arg 2) on 5.10; struct inode * (arg 2) on 6.1",
		"  5.10: int vfs_unlink(struct inode *dir, struct dentry *dentry, struct inode **delegated_inode)",
		"  6.1: int vfs_unlink(struct user_namespace *mnt_userns, struct inode *dir, struct dentry *dentry, struct inode **delegated_inode)",
	}}
	md = Markdown(s)
	assert.Contains(t, md, "⚠️ argument DRIFT across 5.10..6.1")
	assert.Contains(t, md, "- unlink DRIFT: kprobe vfs_unlink arg 2 via ctx+104 (si): struct dentry * (arg 2) on 5.10; struct inode * (arg 2) on 6.1\n")
	assert.Contains(t, md, "  - `6.1: int vfs_unlink(struct user_namespace *mnt_userns, struct inode *dir, struct dentry *dentry, struct inode **delegated_inode)`\n")
}
