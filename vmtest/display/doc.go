// Package display shows the progress of a vmtest run: a line per kernel
// redrawn in place on a terminal, one line per state change in logs, and
// GitHub Actions log groups and annotations for the kernels that did not
// pass. Everything it prints from a guest, an image or a server has its
// control characters removed and cannot act as a workflow command.
//
// It implements vmtest.Progress and imports vmtest for its states; vmtest
// must not import it.
package display
