"""The runner's byte moving (``_box.py``): control frames, a run's payload into memory files and its output out of
its pipes, by ``splice`` and ``sendfile`` inside the kernel, so that no byte of a run's data enters the runner's
memory, which every later run is forked from. Standard library only; the runner loads it from beside itself.
"""

import json
import os
import select
import struct
import time


def read_frame(fd):
    head = _read_exact(fd, 4)
    if head is None:
        return None
    body = _read_exact(fd, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def _read_exact(fd, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = os.read(fd, n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def write_frame(fd, obj):
    body = json.dumps(obj).encode()
    view = memoryview(struct.pack(">I", len(body)) + body)
    while view:
        view = view[os.write(fd, view) :]


def move(src, dst, count, bounce, offset=None):
    """``count`` bytes from ``src`` (at ``offset``, for a file) to ``dst`` by ``splice``, inside the kernel: they
    never enter this process's memory. Where neither end is a pipe (a container's stdio may be a socket), they go
    through ``bounce``, a pipe of this process's own. EOFError if ``src`` ends first."""
    while count:
        if bounce is None:
            moved = os.splice(src, dst, count, offset_src=offset)
        else:
            moved = os.splice(src, bounce[1], min(count, 1 << 16), offset_src=offset)
            if moved:
                move(bounce[0], dst, moved, None)
        if not moved:
            raise EOFError("the control stream ended inside a request's payload")
        count -= moved
        offset = None if offset is None else offset + moved


def memfile(name, src, size, bounce):
    """A memory file holding the next ``size`` bytes of the control stream, positioned at its start."""
    fd = os.memfd_create(name)
    try:
        move(src, fd, size, bounce)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


class Payload:
    """One request's payload in memory files: stdin, [(path, fd)] of its files, the sealed payload (or None)."""

    def __init__(self, req, src, bounce):
        self.stdin, self.files, self.sealed = None, [], None
        try:
            self.stdin = memfile("stdin", src, req["stdin"] or 0, bounce)
            for rel, size in req["files"]:
                self.files.append((rel, memfile("file", src, size, bounce)))
            if req["sealed"]:
                self.sealed = memfile("sealed", src, req["sealed"], bounce)
        except BaseException:
            self.close()
            raise

    def close(self):
        for fd in (self.stdin, self.sealed, *(fd for _, fd in self.files)):
            if fd is not None:
                os.close(fd)
        self.stdin, self.files, self.sealed = None, [], None


def copy_file(src, path):
    """A memory file's bytes into a new file at ``path``, inside the kernel."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        size, done = os.fstat(src).st_size, 0
        while done < size:
            moved = os.sendfile(fd, src, done, size - done)
            if not moved:
                raise EOFError(f"file {path} ended early")
            done += moved
    finally:
        os.close(fd)


def write_file(path, data):
    """open().write() without the io stack, whose pages a forked run would otherwise copy."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


class Output:
    """A run's stdout and stderr: pipes whose bytes the runner moves into memory files by ``splice``, inside the
    kernel, up to one byte past the cap."""

    def __init__(self, streams, sinks, cap):
        self.streams, self.cap = streams, cap
        self.sink = dict(zip(streams, sinks))
        self.moved = dict.fromkeys(streams, 0)
        # Streams neither at their end nor over their cap. One at its end leaves the select set: it would be
        # "ready" forever, and the loop would spin until the program it belongs to is reaped.
        self.reading = set(streams)

    def pump(self, fd, flags=0):
        """Move what is there; a stream leaves ``reading`` at its end or once over its cap (then True)."""
        count = os.splice(fd, self.sink[fd], min(1 << 16, self.cap + 1 - self.moved[fd]), flags=flags)
        self.moved[fd] += count
        if count and self.moved[fd] <= self.cap:
            return False
        self.reading.discard(fd)
        return self.moved[fd] > self.cap

    def drain(self):
        """What is left once the run is over, without waiting for a writer that is still alive."""
        for fd in list(self.reading):
            try:
                while fd in self.reading:
                    self.pump(fd, os.SPLICE_F_NONBLOCK)
            except BlockingIOError:
                pass  # a process the program left behind still holds the stream open

    def sizes(self):
        """The report's fields for the bytes that follow it."""
        out, err = (self.moved[fd] for fd in self.streams)
        return {
            "stdout_bytes": min(out, self.cap),
            "stderr_bytes": min(err, self.cap),
            "stdout_truncated": out > self.cap,
            "stderr_truncated": err > self.cap,
        }


def serve_until(deadline, event, on_event, output):
    """Move the run's output until ``on_event()`` (called when ``event`` is readable) returns True; None then, or
    why the run must be stopped: "wall_time" past ``deadline``, "output" over the cap."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return "wall_time"
        ready, _, _ = select.select([event, *output.reading], [], [], left)
        for fd in ready:
            if fd is event:
                if on_event():
                    return None
            elif output.pump(fd):
                return "output"
