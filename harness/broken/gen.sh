#!/usr/bin/env bash
# gen.sh: build the deliberately broken tracer objects from probes/bpf/tracer.c.
# Two families, each one small edit of the tracer source:
#
# Field variants remove one bpf_core_field_exists() guard, so the object reads a
# renamed kernel field unconditionally, as the tutorial the probes are modeled
# on does:
#   state: always reads task_struct___pre514.state  -> must fail to load on >= 5.14
#   start: always reads task_struct___pre55.real_start_time -> must fail on >= 5.5
#
# Feature variants use one thing older kernels lack, which the kernel's BTF
# alone tells (vmtest core-report predicts them offline):
#   task_btf:      trace_exec calls bpf_get_current_task_btf (helper, 5.11)
#   loop:          trace_exec walks the ancestry with bpf_loop (helper, 5.17)
#   kern_ctx:      trace_exit calls the kfunc bpf_cast_to_kern_ctx (6.2)
#   fentry:        trace_exit is an fentry program on do_exit (a BPF trampoline on a kernel
#                  function: x86 5.5, arm64 6.4, when it got ftrace direct calls)
#   kprobe_target: trace_open is a kprobe on the epoll_pwait2 syscall wrapper (5.11):
#                  __x64_sys_epoll_pwait2 on x86, __arm64_sys_epoll_pwait2 on arm64
# Every variant is built per architecture, as the tracer is: broken_VARIANT.o for
# x86-64 (-D__TARGET_ARCH_x86) and broken_VARIANT_arm64.o for arm64
# (-D__TARGET_ARCH_arm64, whose PT_REGS_* macros read arm64's registers).
# Run from this directory (go generate). Needs clang ($BPF2GO_CC, default clang) and
# llvm-strip ($BPF2GO_STRIP); libbpf's headers are the ones vendored in probes/bpf/include.
set -euo pipefail
src=../../probes/bpf/tracer.c
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# patch VARIANT 'guard of the new field' 'guard of the old field'
patch() {
	local variant=$1 new=$2 old=$3 out=$tmp/broken_$1.c
	grep -qF "$new" "$src" || { echo "gen.sh: $src has no '$new'" >&2; exit 1; }
	grep -qF "$old" "$src" || { echo "gen.sh: $src has no '$old'" >&2; exit 1; }
	sed -e "s/if (${new//\[/\\[})/if (0 \/* broken: guard removed *\/)/" \
	    -e "s/if (${old//\[/\\[})/if (1 \/* broken: unguarded old field *\/)/" "$src" >"$out"
	cmp -s "$src" "$out" && { echo "gen.sh: patch $variant changed nothing" >&2; exit 1; }
	build "$variant"
}

# build VARIANT: compile $tmp/broken_VARIANT.c to broken_VARIANT.o (x86-64) and,
# with every __x64_sys_ replaced by __arm64_sys_ (the syscall wrappers' names),
# to broken_VARIANT_arm64.o.
build() {
	local variant=$1 out=$tmp/broken_$1.c
	sed -e 's/__x64_sys_/__arm64_sys_/g' "$out" >"$tmp/arm64_broken_$variant.c"
	compile x86 "$out" "broken_$variant.o"
	compile arm64 "$tmp/arm64_broken_$variant.c" "broken_${variant}_arm64.o"
}

# compile ARCH SRC OBJ
compile() {
	# The prefix map keeps the random temp path out of the BTF line info, so the
	# output is reproducible.
	"${BPF2GO_CC:-clang}" -target bpfel -D__TARGET_ARCH_"$1" -O2 -g -Wall -Werror -Wextra -Wno-unused-parameter -Wno-unused-function \
		-fdebug-compilation-dir=. -ffile-prefix-map="$tmp"=harness/broken -ffile-prefix-map="$PWD"=harness/broken \
		-I../../probes/bpf -I../../probes/bpf/include -c "$2" -o "$3"
	"${BPF2GO_STRIP:-llvm-strip}" -g "$3"
}

patch state 'bpf_core_field_exists(prev->__state)' 'bpf_core_field_exists(old->state)'
patch start 'bpf_core_field_exists(task->start_boottime)' 'bpf_core_field_exists(old->real_start_time)'

# edit VARIANT SED-SCRIPT [BEFORE-LINE INSERT-FILE]: apply SED-SCRIPT to the
# tracer source (every line it names must exist) and, optionally, insert the
# contents of INSERT-FILE before the line that equals BEFORE-LINE.
edit() {
	local variant=$1 script=$2 before=${3:-} insert=${4:-} out=$tmp/broken_$1.c
	sed -e "$script" "$src" >"$out"
	if [ -n "$before" ]; then
		grep -qxF "$before" "$out" || { echo "gen.sh: $src has no line '$before'" >&2; exit 1; }
		awk -v before="$before" -v insert="$insert" '$0 == before { while ((getline l < insert) > 0) print l } { print }' "$out" >"$out.tmp"
		mv "$out.tmp" "$out"
	fi
	cmp -s "$src" "$out" && { echo "gen.sh: edit $variant changed nothing" >&2; exit 1; }
	build "$variant"
}

need() { grep -qF "$1" "$src" || { echo "gen.sh: $src has no '$1'" >&2; exit 1; }; }

exec_sec='SEC("tracepoint/sched/sched_process_exec")'

need 'task = (struct task_struct *)bpf_get_current_task();'
edit task_btf 's|task = (struct task_struct \*)bpf_get_current_task();|task = bpf_get_current_task_btf(); /* broken: helper of 5.11 */|'

need 'e->depth = ancestry_depth(task, &e->flags);'
cat >"$tmp/loop.c" <<'C'
/* broken: the ancestry walk as a bpf_loop callback (helper of 5.17). */
struct depth_walk {
	struct task_struct *t;
	__u32 depth;
	__u32 done;
};

static long depth_step(__u32 i, void *arg)
{
	struct depth_walk *w = arg;
	struct task_struct *t = w->t;
	struct task_struct *p = BPF_CORE_READ(t, real_parent);

	if (!p || p == t) {
		w->done = 1;
		return 1;
	}
	w->depth++;
	w->t = p;
	return 0;
}

C
edit loop 's|e->depth = ancestry_depth(task, &e->flags);|{ struct depth_walk w = { .t = task }; bpf_loop(MAX_ANCESTRY, depth_step, \&w, 0); e->depth = w.depth; task = w.t; if (!w.done \&\& BPF_CORE_READ(task, real_parent) != task) e->flags \|= EXEC_DEPTH_TRUNCATED; }|' "$exec_sec" "$tmp/loop.c"

need 'e->code = (long)PT_REGS_PARM1(ctx);'
cat >"$tmp/kern_ctx.c" <<'C'
/* broken: a kfunc of 6.2. */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym;

C
edit kern_ctx 's|e->code = (long)PT_REGS_PARM1(ctx);|e->code = (long)PT_REGS_PARM1((struct pt_regs *)bpf_cast_to_kern_ctx(ctx));|' 'SEC("kprobe/do_exit")' "$tmp/kern_ctx.c"

edit fentry 's|SEC("kprobe/do_exit")|SEC("fentry/do_exit") /* broken: a BPF trampoline (arm64: 6.4) */|; s|e->code = (long)PT_REGS_PARM1(ctx);|e->code = (long)((__u64 *)ctx)[0]; /* fentry: the arguments as an array */|'

need 'SEC("kprobe/vfs_open")'
edit kprobe_target 's|SEC("kprobe/vfs_open")|SEC("kprobe/__x64_sys_epoll_pwait2") /* broken: a syscall of 5.11 */|'
