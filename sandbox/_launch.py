"""Starts one box: joins its cgroups, then (started as root) becomes the sandbox uid and execs bubblewrap.

Standard library only; run as a script by the backend's interpreter: ``_launch.py [--uid N] -- COMMAND...``.

Why a uid switch: bubblewrap started by root maps the box's uid to host uid 0, and the kernel grants some things
by uid alone, capabilities or not (writing /proc/sys is one: ``core_pattern`` set to a pipe runs a command as root).
Started as an unprivileged uid that no host user has, the box's user namespace maps to that uid, which owns nothing.

That uid may not be able to reach what the box binds in (an interpreter under /root, say). So, before giving up
root, the launcher makes a private mount namespace with a tmpfs on /tmp and bind-mounts every ``--ro-bind``
source there, where bubblewrap can reach it; the host's mounts are not touched. (bubblewrap mounts a tmpfs of its
own on /tmp for its scratch space, so it needs nothing writable there.)
"""

import ctypes
import os
import sys

CLONE_NEWNS = 0x00020000
MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x1000, 0x4000, 0x40000
STAGE = "/tmp/prime-stage"

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source, target, fstype, flags, data=None):
    enc = [None if x is None else x.encode() for x in (source, target, fstype, data)]
    _check(_libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]), f"mount {target}")


def join_cgroups(procs_files):
    for path in procs_files:
        with open(path, "w") as f:
            f.write(str(os.getpid()))


def stage_binds(argv):
    """argv with every ``--ro-bind SRC DEST`` source replaced by a bind of it under STAGE."""
    _check(_libc.unshare(CLONE_NEWNS), "unshare")
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    # Opened in this namespace (a bind takes its source from here) and held across the tmpfs on /tmp, which
    # would hide a source that lives under it.
    sources = {i + 1: os.open(argv[i + 1], os.O_PATH) for i, arg in enumerate(argv[:-2]) if arg == "--ro-bind"}
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m,nr_inodes=1024")
    os.mkdir(STAGE, 0o755)
    out = list(argv)
    for i, fd in sources.items():
        staged = os.path.join(STAGE, str(i))
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.mkdir(staged, 0o755)
        else:
            os.close(os.open(staged, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(f"/proc/self/fd/{fd}", staged, None, MS_BIND | MS_REC)
        os.close(fd)
        out[i] = staged
    return out


def become(uid):
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from root to a non-zero uid: every capability goes with it
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid) or uid == 0:
        raise OSError(f"could not become uid {uid}")  # (uid_t)-1 means "unchanged" to setresuid


def main(args):
    split = args.index("--")
    options, command = args[:split], args[split + 1 :]
    join_cgroups(os.environ.pop("PRIME_CGROUP_PROCS", "").split())
    if "--uid" in options:
        command = stage_binds(command)
        become(int(options[options.index("--uid") + 1]))
    os.execv(command[0], command)


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except OSError as exc:
        print(f"prime sandbox launcher: {exc}", file=sys.stderr)
        sys.exit(111)
