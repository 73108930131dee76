package main

import "github.com/corematrix/corematrix/vmtest/guest"

// guestInit runs the guest side when vmtest is PID 1 inside a VM.
func guestInit() {
	guest.Main()
}
