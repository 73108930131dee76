// Package report holds the data model of a corematrix run and renders it:
// per kernel results.json and junit.xml, per run summary.json and summary.md,
// and the merge of shard reports into one summary.
//
// The types of model.go are the contract between the runner (package
// vmtest), the payloads it runs (which may write Facts), and the renderers.
//
// It owns the data model and its renderings, nothing that runs: it must not
// import vmtest, kernels, corereport or probes.
package report
