// Package progress reports the steps and downloads of kernel resolution: a
// line per step, and on a terminal a live byte count and rate per download.
//
// It owns presentation of progress only and must not import the other kernels
// packages.
package progress
