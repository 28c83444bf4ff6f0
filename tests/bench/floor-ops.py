#!/usr/bin/env python3
"""The floor's trace list, derived from an strace of `groundwork drift`.

    strace -f -qq -y -s 4096 -e trace=execve,openat,newfstatat,statx,readlink,readlinkat,access,faccessat2 \
        -o TRACE groundwork drift SPEC
    floor-ops.py TRACE > floor.ops

Every file that groundwork opened becomes `read PATH` (`dir PATH` when opened as a directory),
every path it looked at without opening becomes `stat PATH` (`readlink PATH`), and every process
it started becomes `exec ...`. Left out, because the floor binary does them as well before its
main() runs: the dynamic loader's (ld.so.preload, ld.so.cache, the shared libraries), the Rust
runtime's start-up (/proc/self/maps), and groundwork's own execve. Looks at an open descriptor
(fstat) are not separate inputs. A path done twice is done once by the floor: the repeat is
groundwork's overhead, not necessary work. The global lock that drift takes (an apply and a drift
check never interleave) becomes `lock PATH`: the floor takes it too. Any other write is refused: a
drift check on a converged host with a warm cache writes nothing.
"""

import re
import sys

LINE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\w+)\((.*)\)\s+=\s+(-?\d+|\?)(.*)$")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
FD = re.compile(r"^(?:AT_FDCWD|-?\d+<([^>]*)>)")


def unescape(s):
    return s.encode("latin-1", "backslashreplace").decode("unicode_escape")


def loader(path):
    """What happens before main(), in the floor binary too: the dynamic loader's look-ups and
    the Rust runtime's start-up (it reads /proc/self/maps to place the main thread's guard)."""
    return (
        path in ("/etc/ld.so.cache", "/etc/ld.so.preload", "/proc/self/maps")
        or re.search(r"\.so(\.\d+)*$", path) is not None
    )


def join(dirfd_arg, name):
    if name.startswith("/") or not dirfd_arg:
        return name
    m = FD.match(dirfd_arg)
    base = m.group(1) if m and m.group(1) else None
    if base is None:
        return name
    return base.rstrip("/") + "/" + name if name else base


def main():
    ops, seen, execs, refused, traced = [], set(), 0, [], 0
    pending = {}
    for raw in open(sys.argv[1], encoding="latin-1"):
        raw = raw.rstrip("\n")
        # Calls interrupted by another thread's are printed in two halves.
        m = re.match(r"^(\d+)\s+(.*) <unfinished \.\.\.>$", raw)
        if m:
            pending[m.group(1)] = m.group(2)
            continue
        m = re.match(r"^(\d+)\s+<\.\.\. \w+ resumed>(.*)$", raw)
        if m:
            raw = f"{m.group(1)} {pending.pop(m.group(1), '')}{m.group(2)}"
        m = LINE.match(raw)
        if not m:
            continue
        _pid, call, args, ret, _rest = m.groups()
        strings = [unescape(s) for s in STRING.findall(args)]
        first_arg = args.split(",", 1)[0].strip()
        if call == "execve":
            if ret != "0":
                continue
            execs += 1
            if execs == 1:
                continue  # groundwork itself
            argv = re.search(r"\[(.*?)\]", args)
            words = [unescape(s) for s in STRING.findall(argv.group(1))] if argv else strings[:1]
            op = "exec " + " ".join([strings[0]] + words[1:])
        elif call == "openat":
            path = join(first_arg, strings[0])
            if loader(path):
                continue
            if re.search(r"O_WRONLY|O_RDWR|O_CREAT", args):
                if path.endswith("/groundwork.lock"):
                    op = "lock " + path
                else:
                    refused.append(path)
                    continue
            else:
                op = ("dir " if "O_DIRECTORY" in args else "read ") + path
        elif call in ("newfstatat", "statx", "access", "faccessat2"):
            if call in ("newfstatat", "statx", "faccessat2"):
                if not strings or strings[0] == "":
                    continue  # fstat of an open descriptor
                path = join(first_arg, strings[0])
            else:
                path = strings[0]
            if loader(path):
                continue
            op = "stat " + path
        elif call in ("readlink", "readlinkat"):
            path = join(first_arg, strings[0]) if call == "readlinkat" else strings[0]
            op = "readlink " + path
        else:
            continue
        # The floor does each distinct operation once: a second read of a file is groundwork's
        # own overhead, not part of the unavoidable work.
        traced += 1
        if op not in seen:
            seen.add(op)
            ops.append(op)
    if refused:
        sys.exit(f"floor-ops: the traced run wrote files, so it is no steady-state check: {refused}")
    print(f"# {len(ops)} distinct operations of {traced} traced, from {sys.argv[1]}")
    print("\n".join(ops))


if __name__ == "__main__":
    main()
