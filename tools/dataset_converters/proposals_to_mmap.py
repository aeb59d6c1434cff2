"""Rewrite a proposal file as format version 2, read in place (mmap-able).

Example (a version-1 file, zip-compressed, is read whole on every load)::

    python tools/dataset_converters/proposals_to_mmap.py \\
        data/coco/proposals/ss_train2017.npz \\
        data/coco/proposals/ss_train2017.npz

IN is a proposal ``.npz`` of the project (``file_names``, ``offsets``,
``bboxes``, optional ``scores``; see ``mmdet_csod/datasets/proposals.py``), of
either version. OUT gets the same keys, rows and values, uncompressed, so the
dataset reads an image's rows when it needs them instead of reading the
whole file on every load. Rows are streamed in chunks: memory stays at a few
tens of MB whatever the file's size. OUT may be IN (it is replaced once
complete).

Every row is checked on the way: a non-finite box or score is an error that
names the file, the image and the row (``--allow-non-finite`` copies them;
the dataset drops them when it reads the image). Pickled proposals
(pcl.pytorch, wetectron) are converted by ``pickled_proposals_to_npz.py``,
which writes version 2 directly.
"""
import argparse
import os.path as osp
import sys
import time
import zipfile

import numpy as np

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from mmdet_csod.datasets.npz_members import iter_member_chunks  # noqa: E402
from mmdet_csod.datasets.proposals import (  # noqa: E402
    READABLE_VERSIONS, check_offsets, write_proposal_file)

CHUNK_ROWS = 1 << 20


def _checked(chunks, src, field, names, offsets, allow_non_finite, counts):
    """Pass chunks through, stopping (or counting) at non-finite rows."""
    start = 0
    for chunk in chunks:
        bad = ~np.isfinite(chunk.reshape(len(chunk), -1)).all(axis=1)
        if bad.any():
            counts[field] += int(bad.sum())
            if not allow_non_finite:
                row = start + int(np.flatnonzero(bad)[0])
                i = int(np.searchsorted(offsets, row, side='right')) - 1
                key = str(names[i])
                raise ValueError(
                    f'{src}: field {field}: row {row} of image {key!r} '
                    f'(rows {offsets[i]}:{offsets[i + 1]}) is not finite: '
                    f'{chunk[row - start].tolist()} (--allow-non-finite '
                    'copies such rows; the dataset drops them)')
        start += len(chunk)
        yield chunk


def convert(src: str,
            dst: str,
            allow_non_finite: bool = False,
            chunk_rows: int = CHUNK_ROWS) -> dict:
    """Rewrite ``src`` as a version-2 file at ``dst``.

    Returns:
        dict: images, boxes, source version and compression, and the
        non-finite rows counted per field.
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'proposal file not found: {src}')
    try:
        zf = zipfile.ZipFile(src)
    except zipfile.BadZipFile as e:
        raise ValueError(f'{src}: not a proposal .npz ({e})') from e
    with zf, np.load(src, allow_pickle=False) as data:
        missing = {'version', 'file_names', 'offsets', 'bboxes'} - set(
            data.files)
        if missing:
            raise ValueError(f'{src}: missing field(s) {sorted(missing)}')
        version = int(data['version'])
        if version not in READABLE_VERSIONS:
            raise ValueError(f'{src}: format version {version}, this tool '
                             f'reads versions {READABLE_VERSIONS}')
        names = data['file_names']
        offsets = data['offsets']
        box_layout, box_chunks = iter_member_chunks(src, zf, 'bboxes',
                                                    chunk_rows)
        if len(box_layout.shape) != 2 or box_layout.shape[1] != 4:
            raise ValueError(f'{src}: field bboxes has shape '
                             f'{box_layout.shape}, expected [M, 4]')
        check_offsets(src, names, offsets, box_layout.shape[0])
        if len(set(names.tolist())) != len(names):
            raise ValueError(f'{src}: field file_names repeats an image key')
        score_chunks = None
        if 'scores' in data.files:
            score_layout, score_chunks = iter_member_chunks(
                src, zf, 'scores', chunk_rows)
            if score_layout.shape != (box_layout.shape[0], ):
                raise ValueError(f'{src}: field scores has shape '
                                 f'{score_layout.shape}, expected '
                                 f'[{box_layout.shape[0]}]')
        compressed = zf.getinfo('bboxes.npy').compress_type != \
            zipfile.ZIP_STORED
        offsets = offsets.astype(np.int64)
        counts = dict(bboxes=0, scores=0)
        if score_chunks is not None:
            score_chunks = _checked(score_chunks, src, 'scores', names,
                                    offsets, allow_non_finite, counts)
        write_proposal_file(
            dst, names.tolist(), offsets,
            _checked(box_chunks, src, 'bboxes', names, offsets,
                     allow_non_finite, counts), score_chunks)
    return dict(
        images=len(names),
        boxes=int(offsets[-1]),
        version=version,
        compressed=compressed,
        non_finite=counts)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Rewrite a proposal .npz (format 1 or 2) as format 2: '
        'uncompressed, read in place by the dataset.')
    parser.add_argument('src', help='input proposal .npz')
    parser.add_argument('dst', help='output .npz (may be the input)')
    parser.add_argument(
        '--allow-non-finite',
        action='store_true',
        help='copy non-finite boxes/scores instead of failing (the dataset '
        'drops them when reading the image)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    t0 = time.perf_counter()
    info = convert(args.src, args.dst, allow_non_finite=args.allow_non_finite)
    size = osp.getsize(args.dst) / 2**20
    bad = sum(info['non_finite'].values())
    print(f'{args.dst}: {info["images"]} images, {info["boxes"]} boxes, '
          f'{size:.1f} MiB, format 2 (from format {info["version"]}'
          f'{", compressed" if info["compressed"] else ""}) in '
          f'{time.perf_counter() - t0:.1f} s' +
          (f'; {bad} non-finite rows copied' if bad else ''))


if __name__ == '__main__':
    main()
