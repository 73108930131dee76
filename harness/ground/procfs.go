package ground

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// UserHZ is the clock tick unit of /proc/<pid>/stat times. It is fixed at 100
// by the Linux ABI on every architecture the harness runs on, whatever
// CONFIG_HZ is.
const UserHZ = 100

// ErrBadStat reports a /proc/<pid>/stat line that does not parse.
var ErrBadStat = errors.New("malformed /proc stat")

// Stat is the part of /proc/<pid>/stat the harness checks.
type Stat struct {
	Pid   int
	Comm  string
	State byte // 'R', 'S', 'D', 'Z', ...
	PPid  int
	// StartTime is field 22: the task's start time after boot, in UserHZ ticks,
	// derived by the kernel from task->start_boottime (real_start_time < 5.5).
	StartTime uint64
}

// ParseStat parses one /proc/<pid>/stat line. comm sits in parentheses and may
// itself contain spaces and parentheses, so it extends to the last ')'.
func ParseStat(line []byte) (Stat, error) {
	line = bytes.TrimRight(line, "\n")
	open := bytes.IndexByte(line, '(')
	closing := bytes.LastIndexByte(line, ')')
	if open < 1 || closing < open || closing+2 > len(line) {
		return Stat{}, fmt.Errorf("%w: %q", ErrBadStat, line)
	}
	var s Stat
	pid, err := strconv.Atoi(string(bytes.TrimSpace(line[:open])))
	if err != nil {
		return Stat{}, fmt.Errorf("%w: pid: %w", ErrBadStat, err)
	}
	s.Pid = pid
	s.Comm = string(line[open+1 : closing])
	// rest[0] is field 3 (state), so field N is rest[N-3].
	rest := strings.Fields(string(line[closing+1:]))
	if len(rest) < 20 {
		return Stat{}, fmt.Errorf("%w: %d fields after comm", ErrBadStat, len(rest))
	}
	if len(rest[0]) != 1 {
		return Stat{}, fmt.Errorf("%w: state %q", ErrBadStat, rest[0])
	}
	s.State = rest[0][0]
	if s.PPid, err = strconv.Atoi(rest[1]); err != nil {
		return Stat{}, fmt.Errorf("%w: ppid: %w", ErrBadStat, err)
	}
	if s.StartTime, err = strconv.ParseUint(rest[19], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("%w: starttime: %w", ErrBadStat, err)
	}
	return s, nil
}

// ReadStat reads /proc/<pid>/stat. It works for zombies too, so a child that
// already exited can be inspected until it is reaped.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Stat{}, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	return ParseStat(b)
}

// ReadComm reads /proc/<pid>/comm without its newline.
func ReadComm(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "", fmt.Errorf("read comm of %d: %w", pid, err)
	}
	return strings.TrimSuffix(string(b), "\n"), nil
}

// TicksFromNanos converts a task start time in nanoseconds since boot to
// /proc ticks exactly as the kernel's nsec_to_clock_t does (truncating).
func TicksFromNanos(ns uint64) uint64 {
	return ns / uint64(time.Second/UserHZ)
}

// Ancestry returns pid followed by each parent up to the last process whose
// parent pid is 0 (init, or a kernel thread under kthreadd's parent). The
// kernel's swapper (pid 0), which is its own real_parent, is not included.
func Ancestry(pid int) ([]int, error) {
	var chain []int
	for p := pid; p != 0; {
		if len(chain) > 4096 {
			return nil, fmt.Errorf("ancestry of %d: no end after %d hops", pid, len(chain))
		}
		s, err := ReadStat(p)
		if err != nil {
			return nil, fmt.Errorf("ancestry of %d: %w", pid, err)
		}
		chain = append(chain, p)
		p = s.PPid
	}
	return chain, nil
}
