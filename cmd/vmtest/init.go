package main

// guestInit is replaced by the runner issue: it runs the guest side (vmtest as PID 1).
func guestInit() {
	panic("vmtest: guest init not implemented yet")
}
