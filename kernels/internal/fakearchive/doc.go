// Package fakearchive serves a small Debian archive over HTTP for tests:
// suites with signed InRelease files, Packages.gz indices and real .deb
// packages built in memory, so the whole verify-download-extract path runs
// without the network.
//
// It is for tests only.
package fakearchive
