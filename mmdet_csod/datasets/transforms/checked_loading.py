"""Reading an image and saying what is wrong with it; skipping bad ones.

:func:`read_image` reads and decodes one image and raises
:class:`BadImageError` naming the file and the reason when it cannot be
read, is empty, is not decodable, is a truncated JPEG (OpenCV 4 decodes one
with a grey bottom and only a warning on stderr), or its size differs from
the annotation file's. ``tools/misc/check_data.py`` and the training
pipeline's :class:`LoadImageFromFileChecked` both use it.

In training, :class:`CSODCocoDataset.prepare_data` turns the error into a
skip (mmengine's refetch: ``BaseDataset.__getitem__`` draws another index
when ``prepare_data`` returns None) through :class:`BadImageSkips`, which
names each bad image once in the log, counts them and stops the run with
:class:`BadImageLimitError` and the list past ``max_bad_images``. Counts are
per process (the main process, each data loader worker): see
:class:`BadImageSkips`.
"""
import io
import logging
import math
import os
from typing import Dict, Optional, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import LoadImageFromFile
from mmdet.registry import TRANSFORMS
from mmengine import fileio
from mmengine.logging import print_log

_LISTED = 50  # bad images listed in the limit error (all are in the log)


class BadImageError(ValueError):
    """An image that cannot be used: ``path`` and ``reason`` say why."""

    def __init__(self, path: str, reason: str = '') -> None:
        # one positional argument suffices (how torch re-raises an error of
        # a data loader worker: type(message))
        super().__init__(f'{path}: {reason}' if reason else path)
        self.path = path
        self.reason = reason


class BadImageLimitError(RuntimeError):
    """More bad images than ``max_bad_images`` in one process."""


def _jpeg_truncated(img_bytes: bytes) -> bool:
    """Whether JPEG bytes end before their end-of-image marker.

    The marker is looked for at the end (trailing zero bytes allowed); a
    file without it there (data appended after the image, as some cameras
    do, or a truncated one) is decoded by Pillow, which tells the two
    apart; without Pillow it counts as truncated.
    """
    if img_bytes.rstrip(b'\x00').endswith(b'\xff\xd9'):
        return False
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return True
    try:
        with Image.open(io.BytesIO(img_bytes)) as im:
            im.load()
    except (OSError, SyntaxError, ValueError):
        return True
    return False


def read_image(path: str,
               backend_args: Optional[dict] = None,
               expected_hw: Optional[Tuple[int, int]] = None,
               color_type: str = 'color',
               imdecode_backend: str = 'cv2') -> np.ndarray:
    """Read and decode ``path``; :class:`BadImageError` when it is unusable.

    Args:
        path (str): The image file (any mmengine file backend).
        backend_args (dict, optional): mmengine file backend arguments.
        expected_hw (tuple, optional): (height, width) the annotation file
            gives; a decoded image of another size is an error.
        color_type (str): Flag of :func:`mmcv.imfrombytes`.
        imdecode_backend (str): Backend of :func:`mmcv.imfrombytes`.

    Returns:
        np.ndarray: The decoded image.
    """
    try:
        img_bytes = fileio.get(path, backend_args=backend_args)
    except Exception as e:  # the backend's own error, whatever it is
        raise BadImageError(path, f'cannot be read ({type(e).__name__}: '
                            f'{e})') from e
    if not img_bytes:
        raise BadImageError(path, 'empty file (0 bytes)')
    if img_bytes[:2] == b'\xff\xd8' and _jpeg_truncated(img_bytes):
        raise BadImageError(
            path, f'truncated JPEG ({len(img_bytes)} bytes, no end-of-image '
            'marker)')
    try:
        img = mmcv.imfrombytes(
            img_bytes, flag=color_type, backend=imdecode_backend)
    except Exception as e:  # cv2.error, PIL's errors, ...
        raise BadImageError(path,
                            f'not decodable ({type(e).__name__}: {e})') from e
    if img is None or img.size == 0:
        raise BadImageError(
            path, f'not decodable as an image ({len(img_bytes)} bytes, '
            f'starting {img_bytes[:8]!r})')
    if expected_hw is not None:
        h, w = img.shape[:2]
        eh, ew = int(expected_hw[0]), int(expected_hw[1])
        if (h, w) != (eh, ew):
            hint = (' (transposed: EXIF orientation?)' if
                    (h, w) == (ew, eh) else '')
            raise BadImageError(
                path, f'size {w}x{h} (width x height) but the annotation '
                f'file says {ew}x{eh}{hint}')
    return img


@TRANSFORMS.register_module()
class LoadImageFromFileChecked(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that names what is wrong with an image.

    An image that cannot be read or decoded, a truncated JPEG, or (with
    ``check_size``) one whose size differs from the data info's ``height``
    and ``width`` (the annotation file's) raises :class:`BadImageError`
    naming the file and the reason; :class:`CSODCocoDataset` skips such a
    training image (see :class:`BadImageSkips`), anywhere else it is an
    error. With ``ignore_empty=True`` the transform returns None instead,
    as mmcv's does.

    Args:
        check_size (bool): Compare the decoded size with the data info's
            ``height`` / ``width`` when it has them. Defaults to True.
        Others: as mmcv's ``LoadImageFromFile``.
    """

    def __init__(self, *args, check_size: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.file_client_args is not None:
            raise ValueError('LoadImageFromFileChecked: use backend_args '
                             '(file_client_args is deprecated)')
        self.check_size = check_size

    def transform(self, results: dict) -> Optional[dict]:
        expected = None
        if self.check_size and results.get('height') is not None \
                and results.get('width') is not None:
            expected = (results['height'], results['width'])
        try:
            img = read_image(
                results['img_path'],
                backend_args=self.backend_args,
                expected_hw=expected,
                color_type=self.color_type,
                imdecode_backend=self.imdecode_backend)
        except BadImageError:
            if self.ignore_empty:
                return None
            raise
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return (super().__repr__()[:-1] + f', check_size={self.check_size})')


def _process_name() -> str:
    from torch.utils.data import get_worker_info
    info = get_worker_info()
    if info is None:
        return f'the main process (pid {os.getpid()})'
    return (f'data loader worker {info.id} of {info.num_workers} '
            f'(pid {os.getpid()})')


class BadImageSkips:
    """The bad training images one process has skipped, and the limit.

    Each bad image is named in the log once per process, with the reason
    and the running count. When one process has skipped more than the
    limit, distinct images, it raises :class:`BadImageLimitError` with the
    list (the first 50; every one is in the log); it also does so when every
    image of the dataset is bad, whatever the limit.

    The count is per process: the main process and each data loader worker
    count the images they read, so a run with W workers may skip up to W
    times the limit in all before one process stops it. Workers that are not
    persistent (``persistent_workers=False``) are new processes every
    epoch and count afresh.

    Args:
        max_bad_images (int | float | None): An int >= 0: the most bad
            images one process may skip (0: any bad image stops the run); a
            float in (0, 1): that share of the dataset's images, rounded up;
            None: no limit.
    """

    def __init__(self, max_bad_images: Union[int, float, None]) -> None:
        m = max_bad_images
        if m is not None and (isinstance(m, bool)
                              or not (isinstance(m, int) and m >= 0
                                      or isinstance(m, float) and 0 < m < 1)):
            raise ValueError(
                f'max_bad_images must be an int >= 0, a float in (0, 1) or '
                f'None, got {max_bad_images!r}')
        self.max_bad_images = max_bad_images
        self.bad: Dict[int, str] = {}  # data index -> 'path: reason'

    def limit(self, num_images: int) -> Optional[int]:
        """The limit in images for a dataset of ``num_images``."""
        m = self.max_bad_images
        if m is None or isinstance(m, int):
            return m
        return max(1, math.ceil(m * num_images))

    def known(self, idx: int) -> bool:
        """Whether image ``idx`` was found bad before (in this process)."""
        return idx in self.bad

    def skip(self, idx: int, info: dict, error: BadImageError, num_images: int,
             source: str) -> None:
        """Count, log (once) and, past the limit, stop with the list.

        ``idx``: the image's index in the dataset, ``info`` its data info,
        ``source`` what to name in messages (the annotation file).
        """
        if idx in self.bad:
            return
        self.bad[idx] = str(error)
        limit = self.limit(num_images)
        setting = (f'max_bad_images={self.max_bad_images!r}' +
                   (f' = {limit} of {num_images} images' if isinstance(
                       self.max_bad_images, float) else ''))
        print_log(
            f'{source}: skipped training image {error.path} (image id '
            f'{info.get("img_id")}): {error.reason}; another image is drawn '
            f'({len(self.bad)} skipped in {_process_name()}, '
            f'{setting} per process)',
            logger='current',
            level=logging.WARNING)
        over = limit is not None and len(self.bad) > limit
        if not over and len(self.bad) < num_images:
            return
        listed = list(self.bad.values())
        more = (f'\n  ... and {len(listed) - _LISTED} more (in the log)'
                if len(listed) > _LISTED else '')
        why = (f'more than {setting}'
               if over else f'every one of its {num_images} images is bad')
        raise BadImageLimitError(
            f'{source}: {_process_name()} met {len(self.bad)} bad '
            f'training image(s), {why} (the limit is per process: main '
            'process or data loader worker; set the dataset\'s '
            'max_bad_images, None for no limit, or fix the files: '
            'tools/misc/check_data.py CONFIG names them all):\n  ' +
            '\n  '.join(listed[:_LISTED]) + more) from None
