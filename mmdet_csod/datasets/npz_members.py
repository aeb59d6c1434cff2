"""Uncompressed ``.npz`` members: map one in place, or stream one to disk.

``np.load(path, mmap_mode='r')`` memory-maps plain ``.npy`` files only; for
an ``.npz`` it reads every member whole. A member stored without compression
(``np.savez``, or :class:`NpzStreamWriter`) is a plain ``.npy`` at a fixed
place inside the zip: :func:`member_layout` finds that place, and
:class:`StoredMember` reads rows from there (or maps the whole member),
opening the file lazily, once per process.
"""
import mmap
import os
import struct
import zipfile
from dataclasses import dataclass
from typing import Iterable, Optional, Tuple

import numpy as np
from numpy.lib import format as npformat

_LOCAL_HEADER = struct.Struct('<4sHHHHHIIIHH')  # zip local file header
_LOCAL_MAGIC = b'PK\x03\x04'


@dataclass(frozen=True)
class MemberLayout:
    """Where the data of one uncompressed ``.npy`` member lies in its file."""
    name: str
    offset: int  # byte offset of the first element in the .npz file
    dtype: np.dtype
    shape: Tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize


def _npy_header(f, path: str, name: str) -> Tuple[tuple, bool, np.dtype]:
    """``(shape, fortran_order, dtype)`` of the .npy header at ``f``'s
    position (format 1.0 or 2.0), ``f`` left at the data; a ValueError
    naming the file and member otherwise."""
    try:
        version = npformat.read_magic(f)
        if version == (1, 0):
            return npformat.read_array_header_1_0(f)
        if version == (2, 0):
            return npformat.read_array_header_2_0(f)
        raise ValueError(f'.npy format version {version}')
    except ValueError as e:
        raise ValueError(f'{path}: member {name}: not a readable .npy '
                         f'member ({e})') from e


def member_layout(path: str, zf: zipfile.ZipFile,
                  name: str) -> Optional[MemberLayout]:
    """The layout of member ``name`` (without '.npy') of an open ``.npz``.

    Returns None when the member cannot be mapped in place (compressed, or
    Fortran-ordered); errors name the file and member.
    """
    info = zf.getinfo(name + '.npy')
    if info.compress_type != zipfile.ZIP_STORED:
        return None
    if info.flag_bits & 0x1:
        raise ValueError(f'{path}: member {name} is encrypted')
    with open(path, 'rb') as f:
        f.seek(info.header_offset)
        raw = f.read(_LOCAL_HEADER.size)
        if len(raw) != _LOCAL_HEADER.size or raw[:4] != _LOCAL_MAGIC:
            raise ValueError(f'{path}: member {name}: no zip local header at '
                             f'byte {info.header_offset}')
        fields = _LOCAL_HEADER.unpack(raw)
        start = info.header_offset + _LOCAL_HEADER.size + fields[9] + \
            fields[10]
        f.seek(start)
        shape, fortran, dtype = _npy_header(f, path, name)
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f'{path}: member {name} holds Python objects '
                         f'(dtype {dtype}); only numeric arrays are read')
    if fortran and len(shape) > 1:
        return None
    layout = MemberLayout(name, offset, dtype, tuple(shape))
    end = offset + layout.nbytes
    if end > start + info.file_size or end > os.path.getsize(path):
        raise ValueError(
            f'{path}: member {name} is truncated: shape {layout.shape} needs '
            f'{layout.nbytes} bytes, the file ends before them')
    return layout


class StoredMember:
    """One uncompressed member, opened on first use in each process.

    Only the path and the layout are pickled (a spawned data loader worker
    gets no array, no open file); a forked worker opens the file again for
    itself. :meth:`read` copies rows out with one positioned read
    (``os.preadv``), so a process holds only the rows it asked for;
    :meth:`array` memory-maps the whole member, for passes over every row.

    Rows are not read through the mapping: on Linux 6.x a fault maps the
    whole large folio of the page cache around it, so reading 1,000 random
    images' rows through a mapping left about 700 MB mapped in the process
    (counted in its RSS), and ``madvise(MADV_DONTNEED)`` after each read
    doubled the time and still left some; positioned reads leave none, as
    fast (README, "Proposal files").
    """

    def __init__(self, path: str, layout: MemberLayout) -> None:
        self.path = path
        self.layout = layout
        self._file = None
        self._map: Optional[mmap.mmap] = None
        self._base = 0  # byte offset of the data within self._map
        self._pid: Optional[int] = None

    def __getstate__(self) -> dict:
        return dict(path=self.path, layout=self.layout)

    def __setstate__(self, state: dict) -> None:
        self.__init__(state['path'], state['layout'])

    def __len__(self) -> int:
        return self.layout.shape[0]

    @property
    def shape(self) -> Tuple[int, ...]:
        return self.layout.shape

    @property
    def dtype(self) -> np.dtype:
        return self.layout.dtype

    def _opened(self):
        if self._pid != os.getpid():  # first use, or inherited by a fork
            self._file = self._map = None
            self._pid = os.getpid()
        if self._file is None:
            self._file = open(self.path, 'rb', buffering=0)
        return self._file

    def array(self) -> np.ndarray:
        """The whole member as a read-only array over a memory mapping."""
        if self.layout.nbytes == 0:
            return np.zeros(self.layout.shape, self.layout.dtype)
        f = self._opened()
        if self._map is None:
            start = self.layout.offset - self.layout.offset % \
                mmap.ALLOCATIONGRANULARITY
            self._map = mmap.mmap(
                f.fileno(),
                self.layout.offset + self.layout.nbytes - start,
                access=mmap.ACCESS_READ,
                offset=start)
            self._base = self.layout.offset - start
        count = int(np.prod(self.layout.shape, dtype=np.int64))
        return np.frombuffer(
            self._map, self.layout.dtype, count=count,
            offset=self._base).reshape(self.layout.shape)

    def read(self, start: int, end: int) -> np.ndarray:
        """A copy of rows ``start:end``, read from the file."""
        rows = self.layout.shape[1:]
        out = np.empty((max(0, end - start), ) + rows, self.layout.dtype)
        if out.nbytes == 0:
            return out
        if start < 0 or end > self.layout.shape[0]:
            raise IndexError(f'{self.path}: member {self.layout.name}: rows '
                             f'{start}:{end} outside its {len(self)} rows')
        offset = self.layout.offset + start * (out.nbytes // len(out))
        fd = self._opened().fileno()
        buf = memoryview(out).cast('B')
        got = 0
        while got < out.nbytes:
            if hasattr(os, 'preadv'):
                n = os.preadv(fd, [buf[got:]], offset + got)
            else:  # no preadv (Windows): one more copy
                chunk = os.pread(fd, out.nbytes - got, offset + got)
                buf[got:got + len(chunk)] = chunk
                n = len(chunk)
            if n == 0:
                raise ValueError(f'{self.path}: member {self.layout.name} '
                                 f'ends before row {end} (file truncated?)')
            got += n
        return out

    def close(self) -> None:
        """Close this process's file and mapping (reopened on next use)."""
        self._file = self._map = None


class NpzStreamWriter:
    """Writes an uncompressed ``.npz`` member by member; big members stream.

    Example::

        with NpzStreamWriter(path) as w:
            w.write('offsets', offsets)
            w.write_chunks('bboxes', np.float32, (n, 4), chunks)

    The file is written beside ``path`` and moved there on success only.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._tmp = path + '.tmp.npz'
        self._zf = zipfile.ZipFile(
            self._tmp, 'w', zipfile.ZIP_STORED, allowZip64=True)

    def __enter__(self) -> 'NpzStreamWriter':
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._zf.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        elif os.path.exists(self._tmp):
            os.remove(self._tmp)

    def write(self, name: str, array: np.ndarray) -> None:
        """A small array, written whole."""
        with self._zf.open(name + '.npy', 'w', force_zip64=True) as f:
            npformat.write_array(f, np.asanyarray(array), allow_pickle=False)

    def write_chunks(self, name: str, dtype, shape: Tuple[int, ...],
                     chunks: Iterable[np.ndarray]) -> None:
        """An array of ``shape`` given as row chunks, in order."""
        dtype = np.dtype(dtype)
        header = dict(
            descr=npformat.dtype_to_descr(dtype),
            fortran_order=False,
            shape=tuple(int(s) for s in shape))
        rows = 0
        with self._zf.open(name + '.npy', 'w', force_zip64=True) as f:
            npformat.write_array_header_1_0(f, header)
            for chunk in chunks:
                chunk = np.ascontiguousarray(chunk, dtype=dtype)
                if chunk.shape[1:] != header['shape'][1:]:
                    raise ValueError(
                        f'{self.path}: member {name}: chunk of shape '
                        f'{chunk.shape}, rows must be {header["shape"][1:]}')
                f.write(chunk.data)
                rows += len(chunk)
        if rows != header['shape'][0]:
            raise ValueError(f'{self.path}: member {name}: got {rows} rows, '
                             f'declared {header["shape"][0]}')


def iter_member_chunks(path: str, zf: zipfile.ZipFile, name: str,
                       rows: int) -> Tuple[MemberLayout, Iterable[np.ndarray]]:
    """Stream member ``name`` of an open ``.npz``, compressed or not.

    Returns:
        tuple: the member's dtype and shape (as a :class:`MemberLayout` with
        offset -1) and a generator of C-ordered chunks of at most ``rows``
        rows, read from the zip stream (never the whole member at once).
    """
    stream = zf.open(name + '.npy')
    try:
        shape, fortran, dtype = _npy_header(stream, path, name)
    except ValueError:
        stream.close()
        raise
    if dtype.hasobject or (fortran and len(shape) > 1):
        stream.close()
        raise ValueError(f'{path}: member {name}: dtype {dtype}, fortran '
                         f'order {fortran}: only C-ordered numbers are read')
    layout = MemberLayout(name, -1, dtype, tuple(shape))
    per_row = int(np.prod(shape[1:], dtype=np.int64))

    def chunks():
        with stream:
            for start in range(0, shape[0] if shape else 0, rows):
                n = min(rows, shape[0] - start)
                want = n * per_row * dtype.itemsize
                raw = stream.read(want)
                if len(raw) != want:
                    raise ValueError(f'{path}: member {name} is truncated: '
                                     f'rows from {start} missing')
                yield np.frombuffer(raw,
                                    dtype).reshape((n, ) + tuple(shape[1:]))

    return layout, chunks()
