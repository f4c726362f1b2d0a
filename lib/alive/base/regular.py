"""Reading the files alive keeps without ever hanging on one: a FIFO, a device or a folder
where a state file should be is refused at once (the writers' side is atomic.py, which
re-exports these; tokens.py reads token files with them too, and atomic imports tokens)."""
import errno
import os
import stat


class NotRegularFile(OSError):
    """A name under ALIVE_HOME that is a FIFO, a device, a socket or a folder, not a file."""


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))


def open_regular(path, follow=True):
    """A read-only fd of the regular file at path, for every reader of a file alive keeps.
    O_NONBLOCK: open() of a FIFO would wait for a writer for ever; fstat then refuses
    anything that is not a regular file (NotRegularFile, an OSError, so callers that
    already treat an unreadable file as damaged or missing do the same with it).
    follow=False adds O_NOFOLLOW, for names whose writers never follow a symlink."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW))
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = next((name for test, name in _KINDS if test(mode)), "not a file")
        raise NotRegularFile(errno.EINVAL, f"not a regular file ({kind})")
    return fd


def read_regular(path, follow=True):
    """The bytes of the regular file at path (open_regular())."""
    fd = open_regular(path, follow)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)
