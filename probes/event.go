package probes

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
)

// Kind names an event type, and the group of programs that produces it.
type Kind uint32

// Event kinds: the values of enum event_kind in bpf/events.h, as bpf2go
// generated them.
const (
	KindExec    = Kind(tracerEventKindEVENT_EXEC)
	KindExit    = Kind(tracerEventKindEVENT_EXIT)
	KindOpen    = Kind(tracerEventKindEVENT_OPEN)
	KindConnect = Kind(tracerEventKindEVENT_CONNECT)
	KindSched   = Kind(tracerEventKindEVENT_SCHED)
)

// AllKinds lists every event kind in a stable order.
var AllKinds = registryKinds()

// String returns the short name used on command lines and in JSON: "exec",
// "exit", "open", "connect" or "sched".
func (k Kind) String() string {
	if e := lookup(k); e != nil {
		return e.name
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

// MarshalText encodes the kind as its short name.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses a short name.
func (k *Kind) UnmarshalText(b []byte) error {
	v, err := ParseKind(string(b))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// ParseKind parses one short name ("exec", "exit", "open", "connect", "sched").
func ParseKind(s string) (Kind, error) {
	for _, e := range registry {
		if e.name == s {
			return e.kind, nil
		}
	}
	return 0, fmt.Errorf("unknown event kind %q (want one of %s)", s, strings.Join(registryNames(), ", "))
}

// ParseKinds parses a comma-separated list of kinds; "all" or "" means AllKinds.
func ParseKinds(s string) ([]Kind, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return append([]Kind(nil), AllKinds...), nil
	}
	var out []Kind
	seen := map[Kind]bool{}
	for part := range strings.SplitSeq(s, ",") {
		k, err := ParseKind(strings.TrimSpace(part))
		if err != nil {
			return nil, err
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out, nil
}

// Comm is a task's command name as the kernel keeps it (TASK_COMM_LEN = 16,
// NUL-padded). It encodes as a string in JSON.
type Comm [16]byte

// String returns the name up to the first NUL.
func (c Comm) String() string { return cstring(c[:]) }

// MarshalText encodes the name as text.
func (c Comm) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText sets the name; longer than 15 bytes is an error.
func (c *Comm) UnmarshalText(b []byte) error { return setCString(c[:], b) }

// Name is a NUL-terminated file name of at most 255 bytes (longer names are
// truncated by the probe). It encodes as a string in JSON.
type Name [256]byte

// String returns the name up to the first NUL.
func (n Name) String() string { return cstring(n[:]) }

// MarshalText encodes the name as text.
func (n Name) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// UnmarshalText sets the name; longer than 255 bytes is an error.
func (n *Name) UnmarshalText(b []byte) error { return setCString(n[:], b) }

func setCString(dst, src []byte) error {
	if len(src) >= len(dst) {
		return fmt.Errorf("name %q longer than %d bytes", src, len(dst)-1)
	}
	clear(dst)
	copy(dst, src)
	return nil
}

func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Header is common to every event.
type Header struct {
	Kind Kind `json:"kind"`
	// Core names the CO-RE branches that produced this event's fields.
	Core Core `json:"core"`
	// Ktime is bpf_ktime_get_ns(): CLOCK_MONOTONIC nanoseconds.
	Ktime uint64 `json:"ktime_ns"`
	// PID is the thread id, TGID the process id (for SchedState: of the task
	// switched out).
	PID  uint32 `json:"pid"`
	TGID uint32 `json:"tgid"`
	Comm Comm   `json:"comm"`
}

// Event is implemented by *Exec, *Exit, *Open, *Connect and *SchedState.
type Event interface {
	// Hdr returns the common header.
	Hdr() *Header
	String() string
}

// Hdr returns the header; it makes every event type an Event.
func (h *Header) Hdr() *Header { return h }

func (h *Header) prefix() string {
	return fmt.Sprintf("%-7s pid=%d tgid=%d comm=%q", h.Kind, h.PID, h.TGID, h.Comm.String())
}

// Exec is emitted by tracepoint sched/sched_process_exec after a successful
// execve: the header describes the task after exec.
type Exec struct {
	Header
	// PPID is real_parent's tgid, as /proc/<pid>/stat field 4.
	PPID uint32 `json:"ppid"`
	// UID and GID are the real ids of the task's credentials.
	UID uint32 `json:"uid"`
	GID uint32 `json:"gid"`
	// Depth counts real_parent hops from the task to the first task that is
	// its own real_parent (the idle task, pid 0): pid 1 has depth 1, its
	// children depth 2. Equivalently, the number of processes on the
	// /proc ppid chain from the task to pid 1, both included. At most
	// MaxAncestry; DepthTruncated is set when that bound was hit first.
	Depth          uint32 `json:"depth"`
	DepthTruncated bool   `json:"depth_truncated,omitempty"`
	// StartNs is start_boottime (5.5+) or real_start_time (before 5.5): ns
	// since boot, suspend included. /proc/<pid>/stat field 22 is this value in
	// clock ticks.
	StartNs    uint64 `json:"start_ns"`
	ParentComm Comm   `json:"parent_comm"`
	// Filename is the path passed to execve, as the tracepoint reports it.
	Filename Name `json:"filename"`
}

// MaxAncestry is the most real_parent hops the exec probe follows.
const MaxAncestry = 32

func (e *Exec) String() string {
	return fmt.Sprintf("%s ppid=%d uid=%d gid=%d depth=%d start_ns=%d parent=%q file=%q core=%s",
		e.prefix(), e.PPID, e.UID, e.GID, e.Depth, e.StartNs, e.ParentComm.String(), e.Filename.String(), e.Core)
}

// Exit is emitted by kprobe do_exit, once per exiting thread.
type Exit struct {
	Header
	// Code is do_exit's argument: for exit_group(n) it is n<<8, for a fatal
	// signal it is the signal number (with 0x80 for a core dump).
	Code int64 `json:"code"`
}

// Status returns the exit status (Code>>8 & 0xff) when the task exited
// normally, and the terminating signal (0 if none).
func (e *Exit) Status() (status int, signal int) {
	return int(e.Code>>8) & 0xff, int(e.Code & 0x7f)
}

func (e *Exit) String() string {
	st, sig := e.Status()
	return fmt.Sprintf("%s code=%#x status=%d signal=%d core=%s", e.prefix(), e.Code, st, sig, e.Core)
}

// Open is emitted by kprobe vfs_open.
type Open struct {
	Header
	// Inode is the opened dentry's inode number.
	Inode uint64 `json:"inode"`
	// Name is the dentry name: the last component of the path.
	Name Name `json:"name"`
}

func (e *Open) String() string {
	return fmt.Sprintf("%s inode=%d name=%q core=%s", e.prefix(), e.Inode, e.Name.String(), e.Core)
}

// Address families of Connect.Family.
const (
	AFInet  = 2
	AFInet6 = 10
)

// Connect is emitted when tcp_v4_connect or tcp_v6_connect returns. The
// socket's addresses are read at return, when the kernel has chosen the source
// address and port.
type Connect struct {
	Header
	// Family is AFInet for tcp_v4_connect, AFInet6 for tcp_v6_connect.
	Family uint16 `json:"family"`
	// Ret is the function's return value (0 or -errno).
	Ret int32          `json:"ret"`
	Src netip.AddrPort `json:"src"`
	Dst netip.AddrPort `json:"dst"`
}

func (e *Connect) String() string {
	return fmt.Sprintf("%s family=%d src=%s dst=%s ret=%d core=%s", e.prefix(), e.Family, e.Src, e.Dst, e.Ret, e.Core)
}

// Task state bits (include/linux/sched.h). The low seven are the same on every
// supported kernel; TaskReport masks them.
const (
	TaskRunning         = 0x0000
	TaskInterruptible   = 0x0001
	TaskUninterruptible = 0x0002
	TaskStopped         = 0x0004
	TaskTraced          = 0x0008
	ExitDead            = 0x0010
	ExitZombie          = 0x0020
	TaskParked          = 0x0040
	TaskReport          = 0x7f
	// TaskDead (0x80, outside TaskReport) is the state of a task's last
	// switch-out after exit.
	TaskDead = 0x0080
)

// SchedState is emitted by raw tracepoint sched_switch for the task being
// switched out.
type SchedState struct {
	Header
	// State is the raw task state (__state since 5.14, state before), widened
	// to 64 bits.
	State uint64 `json:"state"`
	// Report is State & TaskReport.
	Report uint32 `json:"report"`
	// Preempt is sched_switch's preempt argument: the task was preempted and
	// is still runnable whatever State says.
	Preempt bool `json:"preempt"`
}

// StateChar returns the ps(1)-style letter for Report ("R", "S", "D", "T",
// "t", "X", "Z", "P"), "R+" when preempted, and "X" for a dead task's final
// switch (TaskDead).
func (e *SchedState) StateChar() string {
	if e.Preempt {
		return "R+"
	}
	switch {
	case e.Report == 0 && e.State&TaskDead != 0:
		return "X"
	case e.Report == 0:
		return "R"
	case e.Report&TaskInterruptible != 0:
		return "S"
	case e.Report&TaskUninterruptible != 0:
		return "D"
	case e.Report&TaskStopped != 0:
		return "T"
	case e.Report&TaskTraced != 0:
		return "t"
	case e.Report&ExitDead != 0:
		return "X"
	case e.Report&ExitZombie != 0:
		return "Z"
	case e.Report&TaskParked != 0:
		return "P"
	}
	return "?"
}

func (e *SchedState) String() string {
	return fmt.Sprintf("%s state=%#x report=%#x (%s) preempt=%t core=%s",
		e.prefix(), e.State, e.Report, e.StateChar(), e.Preempt, e.Core)
}
