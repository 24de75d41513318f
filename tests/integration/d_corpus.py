"""D scripts (written for these tests) that the translator covers, by construct; each must
translate and compile with the real bpftrace."""

from __future__ import annotations

D_CORPUS: dict[str, str] = {
    "count by syscall": "syscall:::entry { @num[probefunc] = count(); }",
    "lquantize read size": "syscall::read:entry { @dist[execname] = lquantize(arg0, 0, 12, 2); }",
    "lquantize default step": "syscall::write:entry { @w = lquantize(arg2, 0, 100); }",
    "lquantize uneven": "syscall::read:entry { @u = lquantize(arg2, 0, 10, 3); }",
    "quantize": "syscall::read:return { @q[execname] = quantize(arg0); }",
    "sum avg min max": """syscall::write:entry
{
    @s = sum(arg2);
    @a = avg(arg2);
    @lo = min(arg2);
    @hi = max(arg2);
}""",
    "anonymous aggregation": "syscall::openat:entry { @ = count(); }",
    "two keys": "syscall::read:entry { @k[execname, pid] = count(); }",
    "begin end": 'BEGIN { printf("start\\n"); } END { printf("end\\n"); }',
    "tick exit": "tick-1sec { exit(0); }",
    "tick ms": "tick-100ms { @ticks = count(); }",
    "tick hz": "tick-10 { @t = count(); }",
    "tick minutes": "tick-1m { exit(0); }",
    "profile": "profile-997 { @p[cpu] = count(); }",
    "profile stacks": "profile-99hz { @st[stack()] = count(); }",
    "user stacks": "profile-99 /pid != 0/ { @us[ustack()] = count(); }",
    "predicate execname": 'syscall::read:entry /execname == "bash"/ { @c = count(); }',
    "predicate logical": (
        "syscall::read:entry /pid != 0 && arg2 > 10 || tid == 1/ { @c = count(); }"
    ),
    "predicate lxor": "syscall::read:entry /(pid > 1) ^^ (arg2 > 10)/ { @c = count(); }",
    "self timestamp": """syscall::read:entry { self->ts = timestamp; }
syscall::read:return /self->ts/
{
    @lat[execname] = quantize(timestamp - self->ts);
    self->ts = 0;
}""",
    "this variable": "syscall::write:entry { this->n = arg2 * 2; @w = sum(this->n); }",
    "global scalar": (
        'syscall::read:entry { total = total + arg2; } END { printf("%d\\n", total); }'
    ),
    "global increment": 'syscall::read:entry { n++; } tick-1s { printf("%d\\n", n); n = 0; }',
    "compound assignment": "syscall::read:entry { bytes += arg2; }",
    "associative array": """syscall::openat:entry { seen[pid] = 1; }
syscall::read:entry /seen[pid]/ { @r = count(); seen[pid] = 0; }""",
    "ternary": 'syscall::read:entry { @kind[arg2 > 100 ? "big" : "small"] = count(); }',
    "copyinstr": "syscall::openat:entry { @files[copyinstr(arg1)] = count(); }",
    "stringof": "syscall::openat:entry { @s[stringof(execname)] = count(); }",
    "printf builtins": """syscall::openat:entry
{
    printf("%s %d %d %d %d\\n", execname, pid, tid, uid, cpu);
}""",
    "ppid curthread": "syscall::read:entry { @pp[ppid] = count(); @t[curthread->pid] = count(); }",
    "probe names": """syscall::read:entry
{
    @n[probeprov, probemod, probefunc, probename] = count();
}""",
    "args array": "syscall::read:entry { @a = sum(args[2]); }",
    "syscall return value": "syscall::read:return /arg0 > 0/ { @ret = sum(arg0); }",
    "errno": "syscall::openat:return /errno != 0/ { @err[errno] = count(); }",
    "raw syscall return": "syscall:::return /arg0 < 0/ { @fail = count(); }",
    "globbed syscalls": "syscall::read*:entry { @g = count(); }",
    "two probes one body": (
        "syscall::read:entry, syscall::write:entry { @rw[probefunc] = count(); }"
    ),
    "two probes args": "syscall::read:entry, syscall::write:entry { @b[probefunc] = sum(arg2); }",
    "proc exec": "proc:::exec-success { @e[execname] = count(); }",
    "proc exit": "proc:::exit { @x[execname] = count(); }",
    "proc create": "proc:::create { @f = count(); }",
    "sched off-cpu": "sched:::off-cpu { @off[execname] = count(); }",
    "sched on-cpu": "sched:::on-cpu { @on[execname] = count(); }",
    "io start done": "io:::start { @io = count(); } io:::done { @dn = count(); }",
    "fbt entry": "fbt::vfs_read:entry { @f[execname] = count(); }",
    "fbt return": "fbt::vfs_read:return { @r = quantize(arg1); }",
    "pid uprobe": "pid{PID}::main:entry { @m = count(); }",
    "pid uretprobe": "pid{PID}::main:return { @r = sum(arg1); }",
    "pragma quiet": (
        '#pragma D option quiet\nBEGIN { printf("%5d|%-8s|%x\\n", 42, "ab", 255); exit(0); }'
    ),
    "printa trace": 'BEGIN { @c = count(); printa(@c); trace(1); trace("s"); exit(0); }',
    "clear trunc": (
        "tick-1s { clear(@a); trunc(@b); } syscall::read:entry { @a = count(); @b = count(); }"
    ),
    "normalize printa": (
        "syscall::read:entry { @n = count(); } tick-1s { normalize(@n, 2); printa(@n); }"
    ),
    "casts": "syscall::read:entry { @c[(int)arg0, (unsigned char)arg2] = count(); }",
    "bitwise": (
        "syscall::read:entry { @b[arg2 & 0xff, arg2 >> 4, arg2 | 1, ~arg2, arg2 ^ 3] = count(); }"
    ),
    "octal and char": "BEGIN { printf(\"%d %d %c\\n\", 017, 0x1FUL, 'a'); exit(0); }",
    "macro argument": "syscall::read:entry /pid == $1/ { @c = count(); }",
    "unary minus not": "syscall::read:entry /!(arg2 == 0) && -arg2 < 0/ { @c = count(); }",
    "comments": "/* a comment */ syscall::read:entry // line comment\n{ @c = count(); }",
    "declarations": "int total;\nself int ts;\nsyscall::read:entry { total++; }",
}
D_CORPUS |= {
    "several begin clauses": """BEGIN { printf("a\\n"); }
BEGIN /$1 > 0/ { printf("b\\n"); }
syscall:::entry { @n[probefunc] = count(); }
END { printf("x %d\\n", total); }
END { printf("y\\n"); }
syscall::read:entry { total++; }""",
    "increments in expressions": (
        'tick-10ms /i++ < 10/ { printf("%d\\n", n--); @t[++i] = count(); }'
    ),
    "strjoin in printf": (
        'syscall::openat:entry { printf("%s\\n", strjoin(execname, copyinstr(arg1))); }'
    ),
    "string cast": "syscall::openat:entry { @s[(string)execname] = count(); }",
}
