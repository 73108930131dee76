// Package download fetches over HTTP with a deadline on every wait: the
// connection, the first response byte, every pause in the body and the whole
// transfer. A server that accepts a connection and then says nothing, or
// trickles bytes, fails with a TimeoutError naming the server and the limit
// instead of hanging. Transient failures (timeouts, dropped connections, 5xx
// statuses) are retried a bounded number of times with exponential backoff.
//
// It imports only the standard library and must not import any corematrix
// package.
package download
