"""The one vocabulary of D (DTrace) and bpftrace: every word the lexers and the editor know.

Each word carries a one-line description, shown as hover help in the browser editor.  The
Pygments lexers build their ``words()`` lists from here, and ``static/js/vocabulary.js`` is
generated from :func:`editor_vocabulary`::

    python -m dtrace_lexer.vocabulary --js > static/js/vocabulary.js

A test fails when the committed JavaScript differs from what this module generates.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BPFTRACE",
    "LANGUAGES",
    "D",
    "Function",
    "Language",
    "editor_vocabulary",
    "javascript_module",
    "main",
]


@dataclass(frozen=True)
class Function:
    """A callable word: an action, subroutine, built-in function or aggregating function."""

    name: str
    signature: str
    doc: str


@dataclass(frozen=True)
class Language:
    """Every word list of one tracing language.

    ``builtins``, ``providers`` and ``options`` map a word to its one-line description;
    ``functions`` and ``aggregations`` map a name to a :class:`Function`.
    """

    keywords: tuple[str, ...]
    types: tuple[str, ...]
    builtins: dict[str, str]
    functions: dict[str, Function]
    aggregations: dict[str, Function]
    providers: dict[str, str]
    options: dict[str, str]
    provider_aliases: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        """The JSON-able form the editor reads (see :func:`editor_vocabulary`)."""
        return {
            "keywords": list(self.keywords),
            "types": list(self.types),
            "builtins": dict(self.builtins),
            "functions": {
                f.name: {"signature": f.signature, "doc": f.doc} for f in self.functions.values()
            },
            "aggregations": {
                f.name: {"signature": f.signature, "doc": f.doc} for f in self.aggregations.values()
            },
            "providers": dict(self.providers),
            "options": dict(self.options),
            "providerAliases": dict(self.provider_aliases),
        }


def _docs(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    table: dict[str, str] = {}
    for name, doc in rows:
        if name in table:
            raise ValueError(f"duplicate vocabulary word: {name}")
        table[name] = doc
    return table


def _functions(rows: Iterable[tuple[str, str, str]]) -> dict[str, Function]:
    table: dict[str, Function] = {}
    for name, signature, doc in rows:
        if name in table:
            raise ValueError(f"duplicate vocabulary function: {name}")
        table[name] = Function(name, signature, doc)
    return table


# --------------------------------------------------------------------------------------------
# D (DTrace)
# --------------------------------------------------------------------------------------------

_C_KEYWORDS = (
    "auto", "break", "case", "const", "continue", "default", "do", "else", "enum", "extern",
    "for", "goto", "if", "register", "restrict", "return", "sizeof", "static", "struct",
    "switch", "typedef", "union", "volatile", "while",
)  # fmt: skip

_D_ONLY_KEYWORDS = (
    "counter", "import", "inline", "offsetof", "probe", "provider", "self", "stringof",
    "this", "translator", "xlate", "userland",
)  # fmt: skip

_D_KEYWORDS = tuple(sorted(set(_C_KEYWORDS) | set(_D_ONLY_KEYWORDS)))

_D_TYPES = (
    "char", "double", "float", "int", "long", "short", "signed", "unsigned", "void", "string",
    "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t", "uint64_t",
    "intptr_t", "uintptr_t", "size_t", "ssize_t", "off_t", "pid_t", "uid_t", "gid_t",
    "id_t", "caddr_t", "uchar_t", "ushort_t", "uint_t", "ulong_t", "u_longlong_t",
    "longlong_t", "hrtime_t", "boolean_t", "dev_t", "ino_t", "mode_t", "time_t",
    "processorid_t", "psetid_t", "zoneid_t", "taskid_t", "projid_t", "chipid_t",
    "lgrp_id_t", "kthread_t", "proc_t", "psinfo_t", "lwpsinfo_t", "bufinfo_t",
    "devinfo_t", "fileinfo_t", "cpuinfo_t", "conninfo_t", "ipinfo_t", "tcpinfo_t",
    "tcpsinfo_t", "tcplsinfo_t", "pktinfo_t", "csinfo_t", "udpinfo_t", "udpsinfo_t",
    "ifinfo_t", "ipv4info_t", "ipv6info_t", "dtrace_aggvarid_t",
)  # fmt: skip

D = Language(
    keywords=_D_KEYWORDS,
    types=_D_TYPES,
    builtins=_docs(
        [
            ("args", "args[n]: typed arguments of the current probe"),
            *(
                (f"arg{i}", f"argument {i} of the current probe, as a raw int64_t")
                for i in range(10)
            ),
            ("caller", "program counter of the calling kernel function"),
            ("chip", "identifier of the physical chip running the probe"),
            ("cpu", "identifier of the CPU running the probe"),
            ("curcpu", "cpuinfo_t of the CPU running the probe"),
            ("curlwpsinfo", "lwpsinfo_t of the thread that fired the probe"),
            ("curpsinfo", "psinfo_t of the process that fired the probe"),
            ("curthread", "kernel thread structure of the current thread"),
            ("cwd", "current working directory of the process"),
            ("epid", "enabled probe identifier of this clause"),
            ("errno", "error value of the last system call of this thread"),
            ("execargs", "command-line arguments of the current process"),
            ("execname", "name of the executable of the current process"),
            ("gid", "real group ID of the current process"),
            ("id", "numeric identifier of the probe that fired"),
            ("ipl", "interrupt priority level when the probe fired"),
            ("jid", "jail ID of the current process (FreeBSD)"),
            ("jailname", "jail name of the current process (FreeBSD)"),
            ("lgrp", "latency group of the CPU running the probe"),
            ("pid", "process ID of the current process"),
            ("ppid", "parent process ID of the current process"),
            ("probefunc", "function part of the probe description"),
            ("probemod", "module part of the probe description"),
            ("probename", "name part of the probe description"),
            ("probeprov", "provider part of the probe description"),
            ("projid", "project ID of the current process"),
            ("pset", "processor set containing the CPU running the probe"),
            ("root", "root directory of the current process"),
            ("stackdepth", "kernel stack depth when the probe fired"),
            ("taskid", "task ID of the current process"),
            ("tid", "thread ID of the current thread"),
            ("timestamp", "nanosecond counter since an arbitrary point in the past"),
            ("ucaller", "program counter of the calling user function"),
            ("uid", "real user ID of the current process"),
            ("uregs", "uregs[r]: saved user-mode registers of the current thread"),
            ("ustackdepth", "user stack depth when the probe fired"),
            ("vtimestamp", "nanoseconds the current thread has run on CPU, minus DTrace time"),
            ("walltimestamp", "nanoseconds since 00:00 UTC, January 1, 1970"),
            ("zonename", "name of the zone of the current process"),
        ]
    ),
    functions=_functions(
        [
            # Data recording actions.
            ("trace", "trace(expr)", "record the value of an expression"),
            ("tracemem", "tracemem(addr, size)", "record size bytes of memory at addr"),
            ("printf", "printf(format, ...)", "print formatted output"),
            ("printa", "printa([format,] @agg)", "print an aggregation"),
            ("print", "print(expr)", "print a value using its type"),
            ("stack", "stack([nframes])", "record a kernel stack trace"),
            ("ustack", "ustack([nframes, strsize])", "record a user stack trace"),
            ("jstack", "jstack([nframes, strsize])", "record a user stack with Java frames"),
            ("sym", "sym(addr)", "print the kernel symbol of an address"),
            ("func", "func(addr)", "print the kernel function of an address"),
            ("mod", "mod(addr)", "print the kernel module of an address"),
            ("usym", "usym(addr)", "print the user symbol of an address"),
            ("ufunc", "ufunc(addr)", "print the user function of an address"),
            ("umod", "umod(addr)", "print the user module of an address"),
            ("uaddr", "uaddr(addr)", "print the user symbol and offset of an address"),
            # Aggregation actions.
            ("clear", "clear(@agg)", "reset the values of an aggregation, keeping its keys"),
            ("trunc", "trunc(@agg[, n])", "truncate an aggregation to its top n entries"),
            ("normalize", "normalize(@agg, n)", "divide the printed values of @agg by n"),
            ("denormalize", "denormalize(@agg)", "undo normalize() on an aggregation"),
            ("setopt", "setopt(option[, value])", "set a DTrace option at run time"),
            # Destructive and special actions.
            ("exit", "exit(status)", "stop tracing and exit with status"),
            ("stop", "stop()", "stop the current process (destructive)"),
            ("raise", "raise(signal)", "send a signal to the current process (destructive)"),
            ("system", "system(format, ...)", "run a shell command (destructive)"),
            ("breakpoint", "breakpoint()", "trigger a kernel breakpoint (destructive)"),
            ("panic", "panic()", "panic the kernel (destructive)"),
            ("chill", "chill(nanoseconds)", "spin for a number of nanoseconds (destructive)"),
            ("copyout", "copyout(buf, addr, size)", "copy bytes to user memory (destructive)"),
            ("copyoutstr", "copyoutstr(str, addr, size)", "copy a string to user memory"),
            ("freopen", "freopen(format, ...)", "redirect output to a file (destructive)"),
            ("ftruncate", "ftruncate()", "truncate the output file"),
            # Speculation.
            ("speculation", "speculation()", "allocate a speculative buffer; returns its id"),
            ("speculate", "speculate(id)", "record the rest of the clause speculatively"),
            ("commit", "commit(id)", "commit a speculative buffer"),
            ("discard", "discard(id)", "discard a speculative buffer"),
            # Subroutines.
            ("alloca", "alloca(size)", "allocate scratch memory for this clause"),
            ("basename", "basename(path)", "last component of a path"),
            ("bcopy", "bcopy(src, dest, size)", "copy bytes from src to dest scratch memory"),
            ("cleanpath", "cleanpath(path)", "path with . and .. resolved"),
            ("copyin", "copyin(addr, size)", "copy bytes from user memory into scratch"),
            ("copyinstr", "copyinstr(addr[, maxlen])", "copy a string from user memory"),
            ("copyinto", "copyinto(addr, size, dest)", "copy user memory into a buffer"),
            ("dirname", "dirname(path)", "path without its last component"),
            ("getmajor", "getmajor(dev)", "major number of a device"),
            ("getminor", "getminor(dev)", "minor number of a device"),
            ("getf", "getf(fd)", "file_t of a file descriptor of the current process"),
            ("htonl", "htonl(x)", "32-bit host to network byte order"),
            ("htonll", "htonll(x)", "64-bit host to network byte order"),
            ("htons", "htons(x)", "16-bit host to network byte order"),
            ("ntohl", "ntohl(x)", "32-bit network to host byte order"),
            ("ntohll", "ntohll(x)", "64-bit network to host byte order"),
            ("ntohs", "ntohs(x)", "16-bit network to host byte order"),
            ("index", "index(s, sub[, start])", "position of the first sub in s, or -1"),
            ("rindex", "rindex(s, sub[, start])", "position of the last sub in s, or -1"),
            ("inet_ntoa", "inet_ntoa(ipaddr_t *addr)", "IPv4 address as a dotted string"),
            ("inet_ntoa6", "inet_ntoa6(in6_addr_t *addr)", "IPv6 address as a string"),
            ("inet_ntop", "inet_ntop(af, addr)", "IPv4 or IPv6 address as a string"),
            ("json", "json(str, key)", "value of a key in a JSON string"),
            ("lltostr", "lltostr(n[, base])", "integer as a string"),
            ("strtoll", "strtoll(s[, base])", "string as an integer"),
            ("msgdsize", "msgdsize(mblk_t *mp)", "bytes of data in a STREAMS message"),
            ("msgsize", "msgsize(mblk_t *mp)", "bytes in a STREAMS message"),
            ("mutex_owned", "mutex_owned(kmutex_t *m)", "whether the thread holds a mutex"),
            ("mutex_owner", "mutex_owner(kmutex_t *m)", "thread holding a mutex"),
            ("mutex_type_adaptive", "mutex_type_adaptive(kmutex_t *m)", "is the mutex adaptive"),
            ("mutex_type_spin", "mutex_type_spin(kmutex_t *m)", "is the mutex a spin lock"),
            ("progenyof", "progenyof(pid)", "whether the process descends from pid"),
            ("rand", "rand()", "a pseudo-random integer"),
            ("rw_iswriter", "rw_iswriter(krwlock_t *rw)", "is a writer holding the lock"),
            ("rw_read_held", "rw_read_held(krwlock_t *rw)", "is the lock held as reader"),
            ("rw_write_held", "rw_write_held(krwlock_t *rw)", "is the lock held as writer"),
            ("strchr", "strchr(s, c)", "s from the first occurrence of c"),
            ("strrchr", "strrchr(s, c)", "s from the last occurrence of c"),
            ("strjoin", "strjoin(a, b)", "concatenation of two strings"),
            ("strlen", "strlen(s)", "length of a string"),
            ("strstr", "strstr(s, sub)", "s from the first occurrence of sub"),
            ("strtok", "strtok(s, delims)", "next token of a string"),
            ("substr", "substr(s, index[, length])", "part of a string"),
            ("tolower", "tolower(s)", "string in lower case"),
            ("toupper", "toupper(s)", "string in upper case"),
        ]
    ),
    aggregations=_functions(
        [
            ("count", "count()", "number of times called"),
            ("sum", "sum(expr)", "total of the values"),
            ("min", "min(expr)", "smallest value"),
            ("max", "max(expr)", "largest value"),
            ("avg", "avg(expr)", "arithmetic mean of the values"),
            ("stddev", "stddev(expr)", "standard deviation of the values"),
            ("quantize", "quantize(expr)", "power-of-two frequency distribution"),
            ("lquantize", "lquantize(expr, lo, hi, step)", "linear frequency distribution"),
            (
                "llquantize",
                "llquantize(expr, factor, lo, hi, steps)",
                "log-linear frequency distribution",
            ),
        ]
    ),
    providers=_docs(
        [
            ("BEGIN", "dtrace provider: fires once when tracing starts"),
            ("END", "dtrace provider: fires once when tracing ends"),
            ("ERROR", "dtrace provider: fires when a clause hits a run-time error"),
            ("dtrace", "the DTrace provider itself: BEGIN, END and ERROR"),
            ("syscall", "entry and return of every system call"),
            ("fbt", "function boundary tracing: entry and return of kernel functions"),
            ("profile", "profile-N: fires on every CPU N times per second"),
            ("tick", "tick-N: fires on one CPU at an interval (tick-1s, tick-10ms)"),
            ("pid", "pidNNN: user functions and instructions of process NNN"),
            ("usdt", "statically defined user probes of a program"),
            ("proc", "process and thread creation, exec, exit and signals"),
            ("sched", "CPU scheduling: on-cpu, off-cpu, enqueue, wakeup"),
            ("io", "disk I/O: start, done, wait-start, wait-done"),
            ("ip", "IP send and receive"),
            ("tcp", "TCP connections, state changes, send and receive"),
            ("udp", "UDP send and receive"),
            ("lockstat", "kernel lock contention and hold events"),
            ("sysinfo", "kernel statistics of the sys named kstat"),
            ("vminfo", "kernel virtual memory statistics"),
            ("sdt", "statically defined kernel tracing points"),
            ("fasttrap", "a probe hit in user code, triggered by DTrace"),
            ("plockstat", "user-level lock contention (pthread mutexes and rwlocks)"),
            ("cpc", "CPU performance counter overflow"),
            ("rawtp", "raw kernel tracepoints (Linux)"),
            ("perf", "Linux perf events"),
        ]
    ),
    options=_docs(
        [
            ("aggrate", "rate at which aggregations are read (e.g. 1hz)"),
            ("aggsize", "aggregation buffer size (e.g. 4m)"),
            ("aggsortkey", "sort aggregations by key"),
            ("aggsortkeypos", "position of the key to sort aggregations by"),
            ("aggsortpos", "position of the aggregation to sort by"),
            ("aggsortrev", "sort aggregations in reverse order"),
            ("bufpolicy", "principal buffer policy: switch, fill or ring"),
            ("bufresize", "buffer resizing policy: auto or manual"),
            ("bufsize", "principal buffer size (e.g. 4m)"),
            ("cleanrate", "rate at which dynamic variables are cleaned"),
            ("cpu", "trace only on this CPU"),
            ("defaultargs", 'allow unset macro arguments ($1 is 0, $$1 is "")'),
            ("destructive", "allow destructive actions"),
            ("dynvarsize", "dynamic variable space size"),
            ("flowindent", "indent function entry and return"),
            ("grabanon", "claim anonymous tracing state"),
            ("jstackframes", "default number of jstack() frames"),
            ("jstackstrsize", "default string space of jstack()"),
            ("nspec", "number of speculative buffers"),
            ("quiet", "print only explicitly traced data"),
            ("rawbytes", "print tracemem() output as raw hexadecimal"),
            ("specsize", "speculative buffer size"),
            ("stackframes", "default number of stack() frames"),
            ("stackindent", "indentation of stack() and ustack() output"),
            ("statusrate", "rate of status checks"),
            ("strsize", "default string size"),
            ("switchrate", "rate of buffer switches"),
            ("ustackframes", "default number of ustack() frames"),
            ("zdefs", "allow probe descriptions that match no probes"),
            ("version", "D language version to compile against"),
        ]
    ),
    provider_aliases={},
)


# --------------------------------------------------------------------------------------------
# bpftrace
# --------------------------------------------------------------------------------------------

_BPFTRACE_KEYWORDS = (
    "if", "else", "unroll", "while", "for", "return", "break", "continue", "struct",
    "union", "enum", "sizeof", "offsetof", "config",
)  # fmt: skip

_BPFTRACE_TYPES = (
    "void", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "string", "inet", "buffer", "char", "short", "int", "long", "unsigned",
    "signed", "const", "volatile", "size_t", "int8_t", "int16_t", "int32_t", "int64_t",
    "uint8_t", "uint16_t", "uint32_t", "uint64_t", "u8", "u16", "u32", "u64",
    "s8", "s16", "s32", "s64", "pid_t", "uid_t", "gid_t",
)  # fmt: skip

BPFTRACE = Language(
    keywords=_BPFTRACE_KEYWORDS,
    types=_BPFTRACE_TYPES,
    builtins=_docs(
        [
            ("pid", "process ID (kernel tgid)"),
            ("tid", "thread ID (kernel pid)"),
            ("uid", "user ID"),
            ("gid", "group ID"),
            ("username", "user name of the current process"),
            ("nsecs", "nanosecond timestamp"),
            ("elapsed", "nanoseconds since bpftrace started"),
            ("numaid", "NUMA node ID"),
            ("cpu", "processor ID"),
            ("comm", "process name"),
            ("kstack", "kernel stack trace"),
            ("ustack", "user stack trace"),
            *((f"arg{i}", f"argument {i} of a kprobe or uprobe") for i in range(10)),
            *((f"sarg{i}", f"stack argument {i} of a kprobe or uprobe") for i in range(10)),
            ("args", "arguments of a tracepoint, kfunc or uprobe with type info"),
            ("retval", "return value of a kretprobe or uretprobe"),
            ("func", "name of the traced function"),
            ("probe", "full name of the probe"),
            ("curtask", "current task_struct as a 64-bit integer"),
            ("rand", "a random 32-bit number"),
            ("cgroup", "cgroup ID of the current process"),
            ("cpid", "child PID of the command run with -c"),
            ("jiffies", "jiffies of the kernel"),
            ("ctx", "pointer to the probe's context"),
        ]
    ),
    functions=_functions(
        [
            ("printf", "printf(fmt, ...)", "print formatted output"),
            ("print", "print(@map | value)", "print a map or a value"),
            ("time", "time([fmt])", "print the current time"),
            ("join", "join(char *arr[][, delim])", "print an array of strings, joined"),
            ("str", "str(char *s[, length])", "string from a pointer"),
            ("buf", "buf(void *d[, length])", "hex-formatted buffer"),
            ("ksym", "ksym(addr)", "kernel symbol of an address"),
            ("usym", "usym(addr)", "user symbol of an address"),
            ("kaddr", "kaddr(char *name)", "address of a kernel symbol"),
            ("uaddr", "uaddr(char *name)", "address of a user symbol"),
            ("kptr", "kptr(void *p)", "annotate a pointer as kernel memory"),
            ("uptr", "uptr(void *p)", "annotate a pointer as user memory"),
            ("reg", "reg(char *name)", "value of a register"),
            ("system", "system(fmt, ...)", "run a shell command (unsafe)"),
            ("exit", "exit()", "quit bpftrace"),
            ("cgroupid", "cgroupid(char *path)", "cgroup ID of a cgroup path"),
            ("cgroup_path", "cgroup_path(int id[, filter])", "path of a cgroup ID"),
            ("ntop", "ntop([int af,] addr)", "IP address as a string"),
            ("pton", "pton(const string *addr)", "IP address string as bytes"),
            ("cat", "cat(filename)", "print the contents of a file"),
            ("signal", "signal(char *sig | int sig)", "send a signal to the current task"),
            ("strncmp", "strncmp(char *s1, char *s2, int n)", "compare n characters"),
            ("strcontains", "strcontains(char *haystack, char *needle)", "substring test"),
            ("override", "override(u64 rc)", "override a kernel function's return value"),
            ("strftime", "strftime(char *fmt, int nsecs)", "formatted timestamp"),
            ("path", "path(struct path *p)", "full path of a struct path"),
            ("macaddr", "macaddr(char[6] addr)", "MAC address as a string"),
            ("bswap", "bswap(uint n)", "reverse the byte order of an integer"),
            ("skboutput", "skboutput(path, skb, len, offset)", "write skb data to a pcap file"),
            ("unwatch", "unwatch(void *addr)", "remove a watchpoint"),
            ("kstack", "kstack([mode,] [limit])", "kernel stack trace"),
            ("ustack", "ustack([mode,] [limit])", "user stack trace"),
            ("delete", "delete(@map[key])", "delete one element of a map"),
            ("clear", "clear(@map)", "delete every element of a map"),
            ("zero", "zero(@map)", "set every value of a map to zero"),
            ("len", "len(@map)", "number of elements in a map"),
            ("has_key", "has_key(@map, key)", "whether a map has a key"),
        ]
    ),
    aggregations=_functions(
        [
            ("count", "count()", "number of times called"),
            ("sum", "sum(int n)", "total of the values"),
            ("avg", "avg(int n)", "average of the values"),
            ("min", "min(int n)", "smallest value"),
            ("max", "max(int n)", "largest value"),
            ("stats", "stats(int n)", "count, average and total"),
            ("hist", "hist(int n)", "power-of-two histogram"),
            ("lhist", "lhist(int n, int min, int max, int step)", "linear histogram"),
        ]
    ),
    providers=_docs(
        [
            ("BEGIN", "fires once when bpftrace starts"),
            ("END", "fires once when bpftrace exits"),
            ("kprobe", "kprobe:function — start of a kernel function"),
            ("kretprobe", "kretprobe:function — return of a kernel function"),
            ("uprobe", "uprobe:binary:function — start of a user function"),
            ("uretprobe", "uretprobe:binary:function — return of a user function"),
            ("tracepoint", "tracepoint:category:event — static kernel tracepoint"),
            ("rawtracepoint", "rawtracepoint:event — raw kernel tracepoint"),
            ("usdt", "usdt:binary:[provider:]probe — static user probe"),
            ("profile", "profile:hz:rate — sample on every CPU (also s, ms, us)"),
            ("interval", "interval:s:rate — fire on one CPU at an interval (also ms, us, hz)"),
            ("software", "software:event:count — kernel software event"),
            ("hardware", "hardware:event:count — processor event"),
            ("watchpoint", "watchpoint:address:length:mode — memory watchpoint"),
            ("asyncwatchpoint", "asyncwatchpoint:address:length:mode — async watchpoint"),
            ("kfunc", "kfunc:function — kernel function entry via BTF (fentry)"),
            ("kretfunc", "kretfunc:function — kernel function return via BTF (fexit)"),
            ("fentry", "fentry:function — kernel function entry via BTF"),
            ("fexit", "fexit:function — kernel function return via BTF"),
            ("iter", "iter:object — iterate over kernel objects"),
        ]
    ),
    options=_docs(
        [
            ("BPFTRACE_STRLEN", "bytes on the BPF stack per str() (default 64)"),
            ("BPFTRACE_MAP_KEYS_MAX", "maximum keys in a map (default 4096)"),
            ("BPFTRACE_CAT_BYTES_MAX", "maximum bytes read by cat() (default 10k)"),
            ("BPFTRACE_MAX_PROBES", "maximum number of probes (default 512)"),
            ("BPFTRACE_MAX_BPF_PROGS", "maximum number of BPF programs (default 512)"),
            ("BPFTRACE_LOG_SIZE", "verifier log size in bytes (default 1000000)"),
            ("BPFTRACE_PERF_RB_PAGES", "ring buffer pages per CPU (default 64)"),
            ("BPFTRACE_NO_CPP_DEMANGLE", "disable C++ symbol demangling"),
            ("BPFTRACE_NO_USER_SYMBOLS", "disable user symbol resolution"),
            ("BPFTRACE_CACHE_USER_SYMBOLS", "cache user symbols"),
            ("BPFTRACE_VMLINUX", "vmlinux path used for kernel symbol resolution"),
            ("BPFTRACE_BTF", "BTF file to use"),
        ]
    ),
    provider_aliases={
        "k": "kprobe",
        "kr": "kretprobe",
        "u": "uprobe",
        "ur": "uretprobe",
        "t": "tracepoint",
        "rt": "rawtracepoint",
        "U": "usdt",
        "p": "profile",
        "i": "interval",
        "s": "software",
        "h": "hardware",
        "w": "watchpoint",
        "aw": "asyncwatchpoint",
        "f": "kfunc",
        "fr": "kretfunc",
        "it": "iter",
    },
)


#: Every language, by the name the API, snippets and the command line use for it.
LANGUAGES: dict[str, Language] = {"d": D, "bpftrace": BPFTRACE}


def editor_vocabulary() -> dict[str, Any]:
    """Every word list of both languages as one JSON-able dict.

    Shape (stable; later versions only add keys)::

        {"d" | "bpftrace": {
            "keywords": [word, ...],
            "types": [word, ...],
            "builtins": {name: doc},
            "functions": {name: {"signature": str, "doc": str}},
            "aggregations": {name: {"signature": str, "doc": str}},
            "providers": {name: doc},
            "options": {name: doc},
            "providerAliases": {short: provider},
        }}
    """
    return {name: language.to_json() for name, language in LANGUAGES.items()}


_JS_HEADER = (
    "// Generated by `python -m dtrace_lexer.vocabulary --js > static/js/vocabulary.js`.\n"
    "// Do not edit: change dtrace_lexer/vocabulary.py and regenerate; a test compares them.\n"
)


def javascript_module() -> str:
    """The text of ``static/js/vocabulary.js``: an ES module exporting ``VOCABULARY``."""
    body = json.dumps(editor_vocabulary(), indent=2, ensure_ascii=False)
    return f"{_JS_HEADER}export const VOCABULARY = {body};\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the vocabulary as JSON, or as the editor's ES module with ``--js``."""
    parser = argparse.ArgumentParser(prog="python -m dtrace_lexer.vocabulary")
    parser.add_argument("--js", action="store_true", help="print static/js/vocabulary.js")
    args = parser.parse_args(argv)
    if args.js:
        sys.stdout.write(javascript_module())
    else:
        sys.stdout.write(json.dumps(editor_vocabulary(), indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
