package kernels

import (
	"errors"
	"strings"

	"github.com/corematrix/corematrix/kernels/debian"
)

// ErrUnavailable is returned (wrapped in an *UnavailableError) when no
// configured source serves a kernel name.
var ErrUnavailable = errors.New("kernel unavailable")

// ErrArch is returned (wrapped in an *UnavailableError) when no source
// serves kernels of the architecture a name asks for.
var ErrArch = debian.ErrArchNotServed

// ErrLockMismatch is returned when an image does not match kernels.lock.
var ErrLockMismatch = errors.New("image does not match kernels.lock")

// UnavailableError says why a kernel name could not be resolved and what to
// do instead. It matches ErrUnavailable with errors.Is.
type UnavailableError struct {
	Name string
	// Reasons lists what each source said, in the order tried.
	Reasons []string
	// Hint suggests what to do instead.
	Hint string
	// Errs are the underlying errors (e.g. a suite whose InRelease did not
	// verify), also matched by errors.Is and errors.As.
	Errs []error
}

func (e *UnavailableError) Error() string {
	var b strings.Builder
	b.WriteString("kernel ")
	b.WriteString(e.Name)
	b.WriteString(" is unavailable: ")
	b.WriteString(strings.Join(e.Reasons, "; "))
	if e.Hint != "" {
		b.WriteString(". ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrUnavailable) true, and errors.Is true for
// the underlying errors.
func (e *UnavailableError) Unwrap() []error { return append([]error{ErrUnavailable}, e.Errs...) }
