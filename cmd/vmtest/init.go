package main

// As PID 1 in a guest, vmtest is the guest init: pid1's init function runs
// it, before the host's packages initialize.
import _ "github.com/corematrix/corematrix/cmd/vmtest/internal/pid1"
