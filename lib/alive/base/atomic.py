"""Atomic file writes: a reader sees the old file or the new one, never half of either.

temp file in the same folder (name starts with a dot, so readers skip it), write, flush,
fsync, then os.replace (or os.link when the name must not be overwritten), then fsync
of the folder so the rename itself survives a power cut. The temp file is removed on failure.
"""
import errno
import os

from alive.base import tokens

TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"


def temp_name(directory, final_name):
    return os.path.join(directory, f"{TEMP_PREFIX}{final_name}.{os.getpid()}.{os.urandom(4).hex()}{TEMP_SUFFIX}")


def fsync_dir(directory):
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # some platforms cannot open a folder; the rename is still atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_temp(directory, final_name, data, mode=0o644, durable=True, scrub=True):
    """Write data to a fresh temp file beside final_name; return its path (fsynced when durable).
    alive's own tokens never reach a file (tokens.py): every write under ALIVE_HOME comes here.
    scrub=False only for the user's own files (`alive adopt`), which must stay byte for byte.
    O_EXCL also means a symlink planted at the temp name is never followed."""
    if scrub:
        data = tokens.scrub_bytes(data)
    tmp = temp_name(directory, final_name)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        _unlink_quietly(tmp)
        raise
    os.close(fd)
    return tmp


def write_atomic(path, data, mode=0o644, durable=True, sync_dir=True, scrub=True):
    """Replace path with data atomically. data is bytes or str (UTF-8).

    durable=False skips the fsyncs, for files that mean nothing after a power cut (a
    running marker): the rename is just as atomic. sync_dir=False leaves the folder's fsync
    to the caller, who does one for several renames."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    path = os.fspath(path)
    directory, name = os.path.split(path)
    directory = directory or "."
    tmp = write_temp(directory, name, data, mode, durable, scrub)
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    if durable and sync_dir:
        fsync_dir(directory)


def create_new(directory, names, data, mode=0o644, sync_dir=True):
    """Write data under the first of `names` that does not exist yet; never overwrite.

    The content is complete in a temp file before os.link gives it its name, and link
    fails with EEXIST instead of replacing, so many writers racing for one name each
    end up with their own file. Returns the path written. sync_dir=False leaves the
    folder's fsync to the caller.
    """
    directory = os.fspath(directory)
    tmp = write_temp(directory, "new", data, mode)
    try:
        for name in names:
            final = os.path.join(directory, name)
            try:
                os.link(tmp, final)
            except FileExistsError:
                continue
            except OSError as exc:
                if exc.errno not in _NO_HARDLINKS:
                    raise
                if not _claim_by_rename(tmp, final):
                    continue
                tmp = None  # renamed into place
            if sync_dir:
                fsync_dir(directory)
            return final
        raise FileExistsError(f"no free file name in {directory} (tried {len(names)})")
    finally:
        if tmp:
            _unlink_quietly(tmp)


def append_line(path, text):
    """Append one line to a log, whole or not at all (on a full disk a short write is taken
    back, so the log never holds half a line), scrubbed of tokens, never through a symlink
    planted at its name. Raises OSError."""
    data = tokens.scrub_bytes(f"{text}\n".encode("utf-8", "replace"))
    os.makedirs(os.path.dirname(os.fspath(path)), exist_ok=True)
    fd = open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        start = os.fstat(fd).st_size
        try:
            if os.write(fd, data) != len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # only part of it fitted
        except OSError:
            try:
                os.ftruncate(fd, start)
            except OSError:
                pass
            raise
    finally:
        os.close(fd)


def open_nofollow(path, flags, mode=0o644):
    """os.open that refuses a symlink at `path` (someone could point a lock or log file of
    ours at a file of theirs, and the next write would overwrite or grow it)."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.EMLINK and os.path.islink(path)):
            raise OSError(exc.errno, f"{os.fspath(path)} is a symbolic link; alive does not write through "
                                     f"links (remove it)") from None
        raise


# Filesystems without hard links (some network or FUSE mounts).
_NO_HARDLINKS = {1, 95, 38}  # EPERM, EOPNOTSUPP, ENOSYS


def _claim_by_rename(tmp, final):
    """Fallback without link(): reserve the name with O_EXCL, then rename over the
    reservation. A reader may briefly see an empty file here; only on such filesystems."""
    try:
        os.close(os.open(final, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    except FileExistsError:
        return False
    os.replace(tmp, final)
    return True


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
