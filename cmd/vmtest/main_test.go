package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestExitCodePrintsOnceWithTheCarriedCode(t *testing.T) {
	cause := errors.New("boom")
	for _, tc := range []struct {
		name   string
		err    error
		code   int
		stderr string
	}{
		{"nil", nil, exitOK, ""},
		{"silent usage", exitWith(exitUsage, nil), exitUsage, ""},
		{"help", errHelp, exitOK, ""},
		{"payload code passes through", exitWith(42, nil), 42, ""},
		{"usage error", usageError(cause), exitUsage, "vmtest x: boom\n"},
		{"wrapped exit error keeps its code", fmt.Errorf("fetch: %w", exitWith(exitFail, cause)), exitFail, "vmtest x: fetch: boom\n"},
		{"plain error is infrastructure", cause, exitInfra, "vmtest x: boom\n"},
		{"exitWith ok and nil is nil", exitWith(exitOK, nil), exitOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			assert.Equal(t, tc.code, exitCode(&stderr, "vmtest x", tc.err))
			assert.Equal(t, tc.stderr, stderr.String())
		})
	}
	assert.ErrorIs(t, usageError(cause), cause, "the cause stays in the chain")
	assert.Equal(t, "kernels: fetch: boom", fmt.Sprint(fmt.Errorf("kernels: %w", prefixed("fetch", cause))))
	assert.Equal(t, errHelp, prefixed("fetch", errHelp), "a silent error gets no prefix")
}

// An error carrying a server's text (here an escape sequence in a
// status line) is printed without control characters.
func TestExitCodeStripsControlCharacters(t *testing.T) {
	var stderr bytes.Buffer
	exitCode(&stderr, "vmtest kernels", errors.New("GET http://mirror/x: 404 \x1b[2J\x1b[Hall fine\nsecond line"))
	assert.Equal(t, "vmtest kernels: GET http://mirror/x: 404 [2J[Hall fine\nsecond line\n", stderr.String())
}
