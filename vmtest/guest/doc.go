// Package guest is the guest side of a vmtest run: the init that runs as
// PID 1 inside the VM, and the configuration the host hands it.
//
// The host writes Config (Config.Encode) to ConfigPath inside the initramfs
// (the same archive serves every kernel of a run) and passes what differs per
// kernel on the kernel command line (KernelParam). The format is a few quoted
// lines rather than JSON: under TCG the first JSON decode in a guest cost
// 15-35 ms of every verdict (its code is translated before it runs once).
//
// It runs inside the guest: it may use vmtest/wire for the results stream and
// must not import vmtest, report, kernels or QEMU code.
package guest
