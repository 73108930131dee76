// Package termtext makes untrusted text safe to print on a terminal: it
// removes control characters, so bytes from an image, a server or a report
// cannot move the cursor, clear the screen or hide a line.
//
// It imports only the standard library and must not import any corematrix
// package.
package termtext
