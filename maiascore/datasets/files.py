"""The one place a ``file://`` data set's files are listed and opened: at registration, in the RQ
workers and in the Dask workers (which receive :class:`GroupFiles` in their task graph).

A file is opened only when, every link resolved, it lies under the group's root; it is then
opened component by component from that root without following links (a link swapped in after
the check fails), non-blocking, and kept only if it is a regular file: a FIFO, socket or device
never blocks a thread. What is read is counted as it is read (:class:`Counted`), decompressed.
"""
import gzip
import hashlib
import io
import json
import os
import stat

import fsspec
from fsspec.implementations.local import LocalFileSystem

from maiascore.modeling import DatasetError

PARQUET_SUFFIXES = (".parquet", ".pq")
OUTSIDE = "links outside this account group's data roots (DATASET_ROOTS)"
NOT_REGULAR = "is not a regular file (a FIFO, socket, device or directory cannot be read)"


class Outside(DatasetError):
    """A file that, its links resolved, is not under the group's root."""


def within(path, root):
    return os.path.commonpath([path, root]) == root


def contained(path, root, name=None):
    """``path`` with every link resolved, checked under ``root``; raises DatasetError naming ``name``."""
    real = os.path.realpath(path)
    if not within(real, root):
        raise Outside(f"{name or os.path.basename(path)} {OUTSIDE}")
    return real


def regular(path, root, name=None):
    """As :func:`contained`, and the file must be a regular file (checked without opening it)."""
    real = contained(path, root, name)
    try:
        mode = os.lstat(real).st_mode
    except FileNotFoundError:
        raise DatasetError(f"{name or os.path.basename(path)}: no such file") from None
    if not stat.S_ISREG(mode):
        raise DatasetError(f"{name or os.path.basename(path)} {NOT_REGULAR}")
    return real


def open_file(path, root):
    """A binary reader of ``path``, proven under ``root`` at the moment it is opened."""
    name = os.path.basename(path)
    relative = os.path.relpath(regular(path, root, name), root).split(os.sep)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in relative[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = inner
        leaf = os.open(relative[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
    except OSError:  # ELOOP/ENOTDIR: a link appeared after the check; ENXIO: a socket
        raise Outside(f"{name} {OUTSIDE} or changed while opened") from None
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(leaf).st_mode):
        os.close(leaf)
        raise DatasetError(f"{name} {NOT_REGULAR}")
    os.set_blocking(leaf, True)
    return os.fdopen(leaf, "rb")


def listing(path, root):
    """The files a ``file://`` data set reads: the file itself, or every Parquet file under the
    directory (links followed, each proven under ``root``), sorted."""
    real = contained(path, root)
    if not os.path.isdir(real):
        return [regular(real, root, os.path.basename(path))]
    found, seen = [], set()
    for folder, dirs, names in os.walk(real, followlinks=True):
        here = contained(folder, root, os.path.relpath(folder, real))
        if here in seen:  # a link loop
            dirs[:] = []
            continue
        seen.add(here)
        for name in names:
            full = os.path.join(folder, name)
            if name.lower().endswith(PARQUET_SUFFIXES):
                regular(full, root, os.path.relpath(full, real))
                found.append(full)
            else:
                contained(full, root, os.path.relpath(full, real))
        for name in dirs:
            contained(os.path.join(folder, name), root, os.path.relpath(os.path.join(folder, name), real))
    return sorted(found)


def fingerprint(path, files, size):
    """What a data set's file set is: each file's name under ``path`` and size. ``size``: a function."""
    entries = [[os.path.relpath(f, path) if f != path else "", size(f)] for f in files]
    return {"files": len(entries), "sha256": hashlib.sha256(json.dumps(entries).encode()).hexdigest()}


def too_large(limit, setting):
    return f"the data set holds more than {limit} bytes once decompressed; at most {limit} are read ({setting})"


class Counted(io.RawIOBase):
    """A reader that counts the bytes it hands out (decompressed) and fails, naming ``setting``, once
    more than ``limit`` have been read."""

    def __init__(self, stream, limit, setting):
        self.stream, self.limit, self.setting, self.count = stream, limit, setting, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        data = self.stream.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise DatasetError(too_large(self.limit, self.setting))
        buffer[:len(data)] = data
        return len(data)

    def close(self):
        self.stream.close()
        super().close()


class GroupFiles(LocalFileSystem):  # registered below: Dask's readers build it from its protocol
    """The local filesystem as one group may read it: every open goes through :func:`open_file`.
    ``gzip``: hand out the decompressed stream, counted against ``limit`` as it is read (``setting``
    names it); a plain file larger than ``limit`` is refused when opened."""

    protocol = "maiascore-group"
    cachable = False

    @classmethod
    def _strip_protocol(cls, path):
        path = str(path)
        if path.startswith(f"{cls.protocol}://"):
            path = path[len(cls.protocol) + 3:]
        return super()._strip_protocol(path)

    def __init__(self, root, gzip=False, limit=None, setting=None, **kwargs):
        super().__init__(**kwargs)
        self.root, self.gzip, self.limit, self.setting = root, gzip, limit, setting

    def _open(self, path, mode="rb", block_size=None, **kwargs):
        if mode != "rb":
            raise DatasetError("data sets are read only")
        handle = open_file(self._strip_protocol(path), self.root)
        if self.gzip:
            handle = gzip.GzipFile(fileobj=handle)
            return handle if self.limit is None else io.BufferedReader(Counted(handle, self.limit, self.setting))
        if self.limit is not None and os.fstat(handle.fileno()).st_size > self.limit:  # stays seekable
            handle.close()
            raise DatasetError(too_large(self.limit, self.setting))
        return handle


fsspec.register_implementation(GroupFiles.protocol, GroupFiles, clobber=True)
