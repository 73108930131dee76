// Command fault is the end-to-end test payload. Its behaviour is chosen by
// its first argument or, failing that, by the part of $CM_KERNEL after "+"
// (so one initramfs serves every case of a matrix).
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

func main() {
	mode := "pass"
	if _, m, ok := strings.Cut(os.Getenv("CM_KERNEL"), "+"); ok {
		mode = m
	}
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	fmt.Println("fault payload:", mode)
	switch mode {
	case "pass":
		if err := checkGuest(); err != nil {
			fmt.Println("guest environment:", err)
			os.Exit(10)
		}
		facts := `{"programs":[{"name":"e2e","loaded":true,"verified_insns":7}]}`
		if err := os.WriteFile(os.Getenv("CM_FACTS"), []byte(facts), 0o644); err != nil {
			fmt.Println("write facts:", err)
			os.Exit(11)
		}
		// Backtraces on request are not kernel errors.
		for _, c := range []string{"l", "w"} {
			os.WriteFile("/proc/sysrq-trigger", []byte(c), 0)
		}
		fmt.Fprintln(os.Stderr, "stderr is captured too")
	case "fail":
		os.Exit(3)
	case "warn":
		// The scheduler WARNs when a CPU runs kernel code with need_resched
		// set for longer than latency_warn_ms (sched feature LATENCY_WARN,
		// kernel 5.14+ with CONFIG_SCHED_DEBUG): a long bpf_loop in
		// BPF_PROG_TEST_RUN while another thread wants the same CPU.
		if err := latencyWarn(); err != nil {
			fmt.Println("warn:", err)
			os.Exit(12)
		}
	case "xdpwarn":
		// A generic-XDP program on lo returning an action that does not
		// exist: kernels before 5.17 WARN_ONCE in bpf_warn_invalid_xdp_action
		// unless the fix was backported (later ones print a plain line).
		if err := invalidXDPAction(); err != nil {
			fmt.Println("warn:", err)
			os.Exit(12)
		}
	case "hung":
		// A task blocked uninterruptibly for longer than
		// hung_task_timeout_secs: a writer waiting for a pipe's mutex that
		// a splice into a full TCP socket holds.
		if err := hungTask(); err != nil {
			fmt.Println("hung:", err)
			os.Exit(14)
		}
	case "oops":
		// Kernels before "sysrq: Use panic() to force a crash" crash by a
		// NULL pointer write: an oops, then the panic.
		os.WriteFile("/proc/sysrq-trigger", []byte("c"), 0)
		time.Sleep(time.Minute)
	case "segv":
		// The payload process itself dies of the signal.
		err := unix.Exec("/bin/busybox", []string{"sh", "-c", "kill -SEGV $$"}, os.Environ())
		fmt.Println("exec busybox:", err)
		os.Exit(13)
	case "oom":
		// The kernel populates the mappings: no page fault per page, which
		// costs under TCG.
		for {
			if _, err := unix.Mmap(-1, 0, 64<<20, unix.PROT_READ|unix.PROT_WRITE,
				unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE); err != nil {
				fmt.Println("mmap:", err)
				os.Exit(15)
			}
		}
	case "panic":
		os.WriteFile("/proc/sysrq-trigger", []byte("c"), 0)
		time.Sleep(time.Minute)
	case "hang":
		time.Sleep(time.Hour)
	case "killinit":
		// SIGKILL and SIGTERM cannot end PID 1 (the kernel drops the first,
		// the init ignores the second); a SIGSEGV sent with kill(2) ends the
		// Go runtime of the init.
		unix.Kill(1, unix.SIGKILL)
		unix.Kill(1, unix.SIGTERM)
		unix.Kill(1, unix.SIGSEGV)
		time.Sleep(time.Minute)
	case "poweroff":
		unix.Sync()
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	case "wreck":
		f, err := os.OpenFile("/dev/ttyS1", os.O_WRONLY, 0)
		if err == nil {
			f.Write([]byte("bytes the trailer does not account for\n"))
			f.Close()
		}
	default:
		fmt.Println("unknown mode")
		os.Exit(2)
	}
}

// checkGuest verifies what the guest init promises a payload.
func checkGuest() error {
	if os.Getenv("CM_VMTEST") != "1" {
		return fmt.Errorf("CM_VMTEST=%q", os.Getenv("CM_VMTEST"))
	}
	if os.Getenv("E2E_EXTRA") != "from --env" {
		return fmt.Errorf("E2E_EXTRA=%q", os.Getenv("E2E_EXTRA"))
	}
	if wd, _ := os.Getwd(); wd != "/tmp" {
		return fmt.Errorf("working directory %q", wd)
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil || rl.Cur != unix.RLIM_INFINITY {
		return fmt.Errorf("RLIMIT_MEMLOCK %+v %v", rl, err)
	}
	mounts, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return err
	}
	for _, m := range []string{"/dev devtmpfs", "/sys sysfs", "/tmp tmpfs", "/run tmpfs", "/sys/kernel/debug debugfs", "/sys/kernel/tracing tracefs", "/sys/fs/bpf bpf", "/sys/fs/cgroup cgroup2"} {
		if !strings.Contains(string(mounts), " "+m+" ") {
			return fmt.Errorf("%s not mounted:\n%s", m, mounts)
		}
	}
	// Busybox gives the guest /bin/sh and the usual tools on the PATH.
	sh, err := exec.Command("/bin/sh", "-c", "echo $((6*7)) $(basename /x/y) | tr 4 X; readlink /usr/bin/awk").CombinedOutput()
	if err != nil || string(sh) != "X2 y\n/bin/busybox\n" {
		return fmt.Errorf("busybox sh: %q %v", sh, err)
	}
	flags, err := os.ReadFile("/sys/class/net/lo/flags")
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(flags)), "9") { // IFF_UP|IFF_LOOPBACK = 0x9
		return fmt.Errorf("lo flags %q %v", flags, err)
	}
	return nil
}

// invalidXDPAction attaches an XDP program returning 42 to lo in generic mode
// and sends it a packet.
func invalidXDPAction() error {
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.XDP,
		License: "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 42),
			asm.Return(),
		},
	})
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer prog.Close()
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return err
	}
	l, err := link.AttachXDP(link.XDPOptions{Program: prog, Interface: lo.Index, Flags: link.XDPGenericMode})
	if err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	defer l.Close()
	c, err := net.Dial("udp", "127.0.0.1:9")
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Write([]byte("x"))
	return err
}

// fn is the BTF of a function returning int with params long arguments
// (callbacks need BTF function info).
func fn(name string, params int) *btf.Func {
	long := &btf.Int{Name: "long", Size: 8, Encoding: btf.Signed}
	proto := &btf.FuncProto{Return: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}}
	for i := range params {
		proto.Params = append(proto.Params, btf.FuncParam{Name: fmt.Sprintf("a%d", i), Type: long})
	}
	linkage := btf.GlobalFunc
	if name != "main" {
		linkage = btf.StaticFunc
	}
	return &btf.Func{Name: name, Type: proto, Linkage: linkage}
}

func latencyWarn() error {
	for path, v := range map[string]string{
		"/sys/kernel/debug/sched/features":        "LATENCY_WARN",
		"/sys/kernel/debug/sched/latency_warn_ms": "10",
	} {
		if err := os.WriteFile(path, []byte(v), 0); err != nil {
			return err
		}
	}
	prog, err := ebpf.NewProgram(&ebpf.ProgramSpec{
		Type:    ebpf.SocketFilter,
		License: "GPL",
		Instructions: asm.Instructions{
			btf.WithFuncMetadata(asm.Mov.Imm(asm.R1, 1<<22).WithSymbol("main"), fn("main", 1)),
			asm.Instruction{OpCode: asm.LoadImmOp(asm.DWord), Dst: asm.R2, Src: asm.PseudoFunc, Constant: -1}.WithReference("cb"),
			asm.Mov.Imm(asm.R3, 0),
			asm.Mov.Imm(asm.R4, 0),
			asm.FnLoop.Call(),
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
			btf.WithFuncMetadata(asm.Mov.Imm(asm.R0, 0).WithSymbol("cb"), fn("cb", 2)),
			asm.Return(),
		},
	})
	if err != nil {
		return fmt.Errorf("load: %+v", err)
	}
	defer prog.Close()
	var cpu0 unix.CPUSet
	cpu0.Set(0)
	go func() {
		runtime.LockOSThread()
		unix.SchedSetaffinity(0, &cpu0)
		for {
		}
	}()
	runtime.LockOSThread()
	if err := unix.SchedSetaffinity(0, &cpu0); err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond)
	for i := 0; i < 3; i++ {
		if _, err := prog.Run(&ebpf.RunOptions{Data: make([]byte, 14)}); err != nil {
			return fmt.Errorf("run: %w", err)
		}
	}
	return nil
}

func hungTask() error {
	for path, v := range map[string]string{
		"/proc/sys/kernel/hung_task_timeout_secs":        "1",
		"/proc/sys/kernel/hung_task_check_interval_secs": "1",
	} {
		if err := os.WriteFile(path, []byte(v), 0); err != nil {
			return err
		}
	}
	// Blocking sockets and pipes (Go's own are non-blocking).
	ln, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	unix.SetsockoptInt(ln, unix.SOL_SOCKET, unix.SO_RCVBUF, 4096) // inherited by the accepted socket
	addr := &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}
	if err := unix.Bind(ln, addr); err != nil {
		return err
	}
	if err := unix.Listen(ln, 1); err != nil {
		return err
	}
	sa, err := unix.Getsockname(ln)
	if err != nil {
		return err
	}
	conn, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	unix.SetsockoptInt(conn, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096)
	if err := unix.Connect(conn, sa); err != nil {
		return err
	}
	peer, _, err := unix.Accept(ln)
	if err != nil {
		return err
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return err
	}
	const fill = 256 << 10 // far more than both socket buffers hold
	if _, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, 2*fill); err != nil {
		return fmt.Errorf("pipe size: %w", err)
	}
	chunk := make([]byte, 4096)
	for range fill / len(chunk) {
		unix.Write(p[1], chunk)
	}
	spliced := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Much more than the socket buffers hold: blocks in the socket's
		// send path with the pipe locked.
		for n := 0; n < fill; {
			k, err := unix.Splice(p[0], nil, conn, nil, fill-n, 0)
			if err != nil {
				spliced <- err
				return
			}
			n += int(k)
		}
		spliced <- nil
	}()
	time.Sleep(500 * time.Millisecond)
	written := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		unix.Write(p[1], []byte("x")) // waits for the pipe's mutex
		close(written)
	}()
	time.Sleep(4 * time.Second) // khungtaskd looks every second
	// Drain the peer: the splice finishes, the writer gets the mutex.
	go func() {
		buf := make([]byte, 64<<10)
		for {
			if n, err := unix.Read(peer, buf); n <= 0 || err != nil {
				return
			}
		}
	}()
	select {
	case <-written:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("the writer never got the pipe")
	}
	return <-spliced
}
