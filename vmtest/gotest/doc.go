// Package gotest runs Go test binaries as payloads: it asks them for the
// framed verbose output that cmd/test2json reads (-test.v=test2json) and turns
// that output into test events and per-test verdicts without the go tool.
//
// It must not import package vmtest or anything that boots; it may use
// report for the event model.
package gotest
