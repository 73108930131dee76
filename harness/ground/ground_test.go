package ground

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStat(t *testing.T) {
	tail := " 1 1 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 43219 3133440 390\n"
	for _, tc := range []struct {
		name string
		line string
		want Stat
		err  error
	}{
		{"plain", "12487 (cat) R 12481" + tail, Stat{12487, "cat", 'R', 12481, 43219}, nil},
		{"comm with spaces", "7 (a b c) S 1" + tail, Stat{7, "a b c", 'S', 1, 43219}, nil},
		{"comm with parens", "7 (x) S 9 (y)) Z 3" + tail, Stat{7, "x) S 9 (y)", 'Z', 3, 43219}, nil},
		{"truncated", "7 (x) S 1 2 3", Stat{}, ErrBadStat},
		{"no comm", "7 x S 1" + tail, Stat{}, ErrBadStat},
		{"bad ppid", "7 (x) S p" + tail, Stat{}, ErrBadStat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStat([]byte(tc.line))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err, "parsed %+v", got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestParseRelease(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"6.1.0-50-cloud-amd64", Version{6, 1, 0}, true},
		{"5.10.0-35-cloud-amd64", Version{5, 10, 0}, true},
		{"6.16.3+deb14-cloud-amd64", Version{6, 16, 3}, true},
		{"5.4.290", Version{5, 4, 290}, true},
		{"7.0", Version{7, 0, 0}, true},
		{"6.18.44-fc-v769", Version{6, 18, 44}, true},
		{"linux", Version{}, false},
		{"6", Version{}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRelease(tc.in)
			if !tc.ok {
				require.ErrorIs(t, err, ErrBadRelease, "parsed %v", got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestExpectFromVersion(t *testing.T) {
	for _, tc := range []struct {
		v    Version
		want Expect
	}{
		{Version{4, 19, 0}, Expect{false, false, false}},
		{Version{5, 4, 0}, Expect{false, false, false}},
		{Version{5, 5, 0}, Expect{true, false, false}},
		{Version{5, 8, 0}, Expect{true, false, true}},
		{Version{5, 10, 0}, Expect{true, false, true}},
		{Version{5, 13, 19}, Expect{true, false, true}},
		{Version{5, 14, 0}, Expect{true, true, true}},
		{Version{6, 1, 0}, Expect{true, true, true}},
		{Version{7, 0, 0}, Expect{true, true, true}},
	} {
		t.Run(tc.v.String(), func(t *testing.T) {
			assert.Equal(t, tc.want, ExpectFromVersion(tc.v))
		})
	}
}

// buildSpec marshals types into raw BTF and parses it back, as a kernel's BTF would be.
func buildSpec(t *testing.T, types ...btf.Type) *btf.Spec {
	t.Helper()
	b, err := btf.NewBuilder(types, nil)
	require.NoError(t, err)
	raw, err := b.Marshal(nil, nil)
	require.NoError(t, err)
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(raw))
	require.NoError(t, err)
	return spec
}

func TestExpectFromBTF(t *testing.T) {
	u64 := &btf.Int{Name: "u64", Size: 8}
	task := func(names ...string) *btf.Struct {
		s := &btf.Struct{Name: "task_struct", Size: uint32(8 * len(names))}
		for i, n := range names {
			s.Members = append(s.Members, btf.Member{Name: n, Type: u64, Offset: btf.Bits(64 * i)})
		}
		return s
	}
	ringbuf := &btf.Struct{Name: "bpf_ringbuf", Size: 8, Members: []btf.Member{{Name: "mask", Type: u64}}}
	anon := &btf.Struct{Size: 16, Members: []btf.Member{
		{Name: "start_boottime", Type: u64}, {Name: "__state", Type: u64, Offset: 64},
	}}
	randomized := &btf.Struct{Name: "task_struct", Size: 16, Members: []btf.Member{{Type: anon}}}
	for _, tc := range []struct {
		name  string
		types []btf.Type
		want  Expect
		bad   bool
	}{
		{"5.4", []btf.Type{task("real_start_time", "state")}, Expect{false, false, false}, false},
		{"5.10", []btf.Type{task("start_boottime", "state"), ringbuf}, Expect{true, false, true}, false},
		{"6.1", []btf.Type{task("start_boottime", "__state"), ringbuf}, Expect{true, true, true}, false},
		{"randomized", []btf.Type{randomized, ringbuf}, Expect{true, true, true}, false},
		{"neither start", []btf.Type{task("state")}, Expect{}, true},
		{"both states", []btf.Type{task("start_boottime", "state", "__state")}, Expect{}, true},
		{"no task_struct", []btf.Type{ringbuf}, Expect{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExpectFromBTF(buildSpec(t, tc.types...))
			if tc.bad {
				require.Error(t, err, "derived %v", got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

// TestExpectAgreesOnThisHost checks the two derivations against each other on
// the real kernel running the unit tests, when it exposes BTF.
func TestExpectAgreesOnThisHost(t *testing.T) {
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err != nil {
		t.Skip("host kernel has no /sys/kernel/btf/vmlinux")
	}
	v, rel, err := RunningVersion()
	require.NoError(t, err)
	fromBTF, err := ExpectFromKernelBTF()
	require.NoError(t, err)
	assert.Equal(t, ExpectFromVersion(v), fromBTF, "kernel %s: version says %v, BTF says %v", rel, ExpectFromVersion(v), fromBTF)
}

func TestProgramELF(t *testing.T) {
	f, err := elf.NewFile(bytes.NewReader(Program{Code: 3, Steps: []Step{OpenArg(1, OpenFailedCode)}}.ELF()))
	require.NoError(t, err)
	assert.Equal(t, elf.ET_EXEC, f.Type)
	// The children are built for the architecture the test runs on.
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	assert.Equal(t, want, f.Machine)
	require.Len(t, f.Progs, 1)
	assert.Equal(t, elf.PT_LOAD, f.Progs[0].Type)
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "child must be static")
	}
}

func TestChildExitCode(t *testing.T) {
	dir := t.TempDir()
	for _, code := range []uint8{0, 7, 255} {
		path, err := Program{Code: code}.Install(dir, "cm-exit")
		require.NoError(t, err)
		c, err := Spawn(path, SpawnOptions{})
		require.NoError(t, err)
		got, err := c.Wait()
		require.NoError(t, err)
		assert.Equal(t, int(code), got)
	}
}

func TestChildOpen(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, nil, 0o644))
	// More opens than the hard limit of open files: only a child that closes
	// each fd again exits with its code.
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	for _, opens := range []uint32{1, 2, uint32(min(lim.Max+1, 1<<20))} {
		path, err := Program{Code: 5, Steps: []Step{OpenCloseArg(1, opens, OpenFailedCode)}}.Install(dir, "cm-open")
		require.NoError(t, err)
		for _, tc := range []struct {
			arg  string
			want int
		}{{target, 5}, {filepath.Join(dir, "missing"), OpenFailedCode}} {
			c, err := Spawn(path, SpawnOptions{Args: []string{tc.arg}})
			require.NoError(t, err)
			got, err := c.Wait()
			require.NoError(t, err)
			assert.Equal(t, tc.want, got, "%d opens of %s", opens, tc.arg)
		}
	}
}

func TestChildBlocksAsNamedUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing uid needs root")
	}
	dir, cleanup, err := ChildDir()
	require.NoError(t, err)
	t.Cleanup(cleanup)
	path, err := Program{Code: 9, Steps: []Step{ReadStdin()}}.Install(dir, "cm-exec-probe")
	require.NoError(t, err)
	before, err := ReadStat(os.Getpid())
	require.NoError(t, err)
	c, err := Spawn(path, SpawnOptions{Cred: &DefaultCred, PipeStdin: true})
	require.NoError(t, err)
	defer c.Kill()
	var st Stat
	require.Eventually(t, func() bool {
		st, err = ReadStat(c.Pid)
		return err == nil && st.State == 'S'
	}, 10*time.Second, 10*time.Millisecond, "child state %q, err %v", st.State, err)
	assert.Equal(t, "cm-exec-probe", st.Comm)
	assert.Equal(t, os.Getpid(), st.PPid)
	assert.GreaterOrEqual(t, st.StartTime, before.StartTime)
	status, err := os.ReadFile("/proc/" + itoa(c.Pid) + "/status")
	require.NoError(t, err)
	assert.Contains(t, string(status), "Uid:\t4242\t4242\t4242\t4242")
	assert.Contains(t, string(status), "Gid:\t4343\t4343\t4343\t4343")
	code, err := c.Wait()
	require.NoError(t, err)
	assert.Equal(t, 9, code)
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestAncestryEndsAtInit(t *testing.T) {
	chain, err := Ancestry(os.Getpid())
	require.NoError(t, err)
	require.NotEmpty(t, chain)
	assert.Equal(t, os.Getpid(), chain[0])
	last, err := ReadStat(chain[len(chain)-1])
	require.NoError(t, err)
	assert.Equal(t, 0, last.PPid, "chain %v", chain)
}

func TestTicksFromNanos(t *testing.T) {
	assert.Equal(t, uint64(0), TicksFromNanos(9_999_999))
	assert.Equal(t, uint64(1), TicksFromNanos(10_000_000))
	assert.Equal(t, uint64(432190), TicksFromNanos(4321_909_999_999))
}

func TestDialLoopback(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "::1"} {
		t.Run(host, func(t *testing.T) {
			c, err := DialLoopback(host)
			if errors.Is(err, os.ErrNotExist) {
				t.Skip(err)
			}
			require.NoError(t, err)
			assert.Equal(t, host, c.Local.Addr().String())
			assert.Equal(t, host, c.Remote.Addr().String())
			assert.NotZero(t, c.Local.Port())
			assert.NotZero(t, c.Remote.Port())
			assert.NotEqual(t, c.Local.Port(), c.Remote.Port())
		})
	}
}

func TestGatedChild(t *testing.T) {
	dir, cleanup, err := ChildDir()
	require.NoError(t, err)
	t.Cleanup(cleanup)
	gate, err := InstallGate(dir, "cm-gate")
	require.NoError(t, err)
	target, err := Program{Code: 12, Steps: []Step{ReadStdin()}}.Install(dir, "cm-exec-probe")
	require.NoError(t, err)
	c, err := SpawnGated(gate, target, SpawnOptions{})
	require.NoError(t, err)
	defer c.Kill()
	// Until opened the child is the gate, asleep.
	var st Stat
	require.Eventually(t, func() bool { st, err = ReadStat(c.Pid); return err == nil && st.State == 'S' },
		10*time.Second, 5*time.Millisecond, "gate state %q err %v", st.State, err)
	assert.Equal(t, "cm-gate", st.Comm)
	require.NoError(t, c.Open())
	// Opened, the same pid execs the target, which blocks on the now empty pipe.
	require.Eventually(t, func() bool {
		st, err = ReadStat(c.Pid)
		return err == nil && st.State == 'S' && st.Comm == "cm-exec-probe"
	}, 10*time.Second, 5*time.Millisecond, "target state %q comm %q err %v", st.State, st.Comm, err)
	code, err := c.Wait()
	require.NoError(t, err)
	assert.Equal(t, 12, code)

	// A gate whose stdin closes unopened does not exec.
	c, err = SpawnGated(gate, target, SpawnOptions{})
	require.NoError(t, err)
	code, err = c.Wait()
	require.NoError(t, err)
	assert.Equal(t, ExecFailedCode, code)

	// A gate pointed at a missing target reports the failed execve.
	c, err = SpawnGated(gate, dir+"/missing", SpawnOptions{})
	require.NoError(t, err)
	require.NoError(t, c.Open())
	code, err = c.Wait()
	require.NoError(t, err)
	assert.Equal(t, ExecFailedCode, code)
}

// The encodings below are what llvm-mc -show-encoding prints for the same
// instructions.
func TestOperandEncoding(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"mov $5, %r10d", Imm(5).load(10), []byte{0x41, 0xba, 0x05, 0, 0, 0}},
		{"mov $9, %r9d", Imm(9).load(9), []byte{0x41, 0xb9, 0x09, 0, 0, 0}},
		{"mov $7, %edi", Imm(7).load(7), []byte{0xbf, 0x07, 0, 0, 0}},
		{"mov 16(%rsp), %rdi", Argv(1).load(7), []byte{0x48, 0x8b, 0x7c, 0x24, 0x10}},
		{"mov 200(%rsp), %r8", Argv(24).load(8), []byte{0x4c, 0x8b, 0x84, 0x24, 0xc8, 0, 0, 0}},
		{"lea 16(%rsp), %rsi", ArgvFrom(1).load(6), []byte{0x48, 0x8d, 0x74, 0x24, 0x10}},
		{"lea -16(%rsp), %rsi", Scratch().load(6), []byte{0x48, 0x8d, 0x74, 0x24, 0xf0}},
		{"mov 0(%rsp), %rax; lea 16(%rsp,%rax,8), %rdx", Envp().load(2),
			[]byte{0x48, 0x8b, 0x44, 0x24, 0x00, 0x48, 0x8d, 0x54, 0xc4, 0x10}},
		{"mov 0(%rsp), %rax; lea 16(%rsp,%rax,8), %r9", Envp().load(9),
			[]byte{0x48, 0x8b, 0x44, 0x24, 0x00, 0x4c, 0x8d, 0x4c, 0xc4, 0x10}},
		{"mov %rax, %rdi", Result().load(7), []byte{0x48, 0x89, 0xc7}},
		{"mov %rax, %r8", Result().load(8), []byte{0x49, 0x89, 0xc0}},
		{"mov $5, %r12d; dec %r12d; jnz -5", Repeat(5).code(), []byte{0x41, 0xbc, 5, 0, 0, 0, 0x41, 0xff, 0xcc, 0x75, 0xfb}},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.got, tt.name)
	}
	assert.Panics(t, func() { Syscall(0, Imm(1), Imm(2), Imm(3), Imm(4), Imm(5), Imm(6), Imm(7)) })
	assert.Panics(t, func() { Repeat(2, Repeat(2)) })
	assert.Empty(t, Repeat(0, ReadStdin()).code(), "zero iterations")
	long := Repeat(2, ReadStdin(), ReadStdin(), ReadStdin(), ReadStdin(), ReadStdin(), ReadStdin()).code()
	assert.Equal(t, []byte{0x0f, 0x85}, long[len(long)-6:len(long)-4], "a body over 128 bytes jumps back with rel32")
}

// TestProgramComposes runs a workload built only from steps: wait on stdin,
// open argv[1], unlink argv[2]; each check exits with its own code.
func TestProgramComposes(t *testing.T) {
	const openFailed, unlinkFailed = 96, 97
	dir := t.TempDir()
	path, err := Program{Code: 3, Steps: []Step{
		ReadStdin(),
		OpenArg(1, openFailed),
		Syscall(SysUnlink, Argv(2)).OrExit(unlinkFailed),
	}}.Install(dir, "cm-unlink")
	require.NoError(t, err)
	keep := filepath.Join(dir, "keep")
	require.NoError(t, os.WriteFile(keep, nil, 0o644))
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		name       string
		open, gone string
		want       int
	}{
		{"all steps succeed", keep, "victim", 3},
		{"open fails first", missing, "victim", openFailed},
		{"unlink fails", keep, "missing", unlinkFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			victim := filepath.Join(dir, "victim")
			require.NoError(t, os.WriteFile(victim, nil, 0o644))
			c, err := Spawn(path, SpawnOptions{Args: []string{tc.open, filepath.Join(dir, tc.gone)}, PipeStdin: true})
			require.NoError(t, err)
			defer c.Kill()
			var st Stat
			require.Eventually(t, func() bool { st, err = ReadStat(c.Pid); return err == nil && st.State == 'S' },
				10*time.Second, 5*time.Millisecond, "child blocks on stdin first: state %q err %v", st.State, err)
			_, err = os.Stat(victim)
			require.NoError(t, err, "nothing unlinked before stdin closes")
			got, err := c.Wait()
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			_, err = os.Stat(victim)
			assert.Equal(t, tc.want == 3, os.IsNotExist(err), "victim unlinked: %v", err)
		})
	}
}
