"""A dataset's proposals: data infos hold row ranges, samples read them.

:class:`AttachedProposals` is what :class:`CSODCocoDataset` keeps of its
proposal file. Each data info gets ``proposal_rows = (start, end)``, two ints,
so the data list mmengine serializes into one buffer (``serialize_data=True``)
stays the size it would be without proposals, and a sample's rows are read
from the file when the sample is, in the process that reads it
(see :class:`mmdet_csod.datasets.proposals.ProposalFile`).

Rows are cleaned when read (:func:`clean_proposals`: non-finite and degenerate
boxes dropped, clipped to the image, near-duplicates dropped with
``nms_iou``, the first ``max_num`` kept), so a sample
holds the same proposals as when they were cleaned at load. A file of at most
``scan_max_boxes`` boxes is also cleaned once at load, for the counted report
and to leave out training images without a usable proposal; a bigger one is
not scanned (a COCO-size file would take most of a minute), and then a
training image left without a usable proposal is skipped when drawn
(mmengine refetches another); the first images of each kind, and those with
non-finite boxes, are named in the log (five a process).
"""
import logging
from typing import List, Optional, Set

from mmengine.logging import print_log

from .proposals import (ProposalFile, ProposalStats, clean_proposals,
                        load_proposal_file, proposal_key)

SCAN_MAX_BOXES = 50_000_000  # ~1 GB of boxes; VOC 07+12 at 2000 an image: 33M
_MAX_NAMED = 5  # images named in the log per process, per kind


class AttachedProposals:
    """The proposal file of a dataset and how its samples read it.

    Args:
        pfile (ProposalFile): The opened file (its keys may be dropped).
        max_num (int, optional): Proposals kept per image, in file order.
        min_size (float): Minimum width and height after clipping.
        nms_iou (float, optional): Near-duplicates (IoU above it with an
            earlier box of the image) dropped before ``max_num`` are kept;
            None keeps them.
        scanned (bool): Whether every image was cleaned at load.
        stats (ProposalStats): Where counts go (the dataset's
            ``load_report['proposals']``); when not scanned, counts of the
            samples this process has read.

    Attributes:
        unusable (set[int]): After a scan, positions in the data list as
            loaded (before filtering) of images with no usable proposal.
    """

    def __init__(self, pfile: ProposalFile, max_num: Optional[int],
                 min_size: float, scanned: bool, stats: ProposalStats,
                 nms_iou: Optional[float] = None) -> None:
        self.pfile = pfile
        self.max_num = max_num
        self.min_size = min_size
        self.nms_iou = nms_iou
        self.scanned = scanned
        self.stats = stats
        self.unusable: Set[int] = set()
        self._named = dict(non_finite=0, empty=0)

    @property
    def path(self) -> str:
        return self.pfile.path

    @classmethod
    def attach(
            cls,
            path: str,
            data_list: List[dict],
            ann_file: str,
            max_num: Optional[int],
            min_size: float,
            stats: ProposalStats,
            scan_max_boxes: Optional[int] = SCAN_MAX_BOXES,
            nms_iou: Optional[float] = None) -> 'AttachedProposals':
        """Open ``path`` and give every info of ``data_list`` its rows.

        Every image must have an entry (an error names the file, the image
        and its key). The file is scanned when ``scan_max_boxes`` is None or
        it holds at most that many boxes.
        """
        pfile = load_proposal_file(path)
        index = pfile.index
        keys = [proposal_key(d['img_path']) for d in data_list]
        missing = [
            d['img_path'] for d, key in zip(data_list, keys)
            if key not in index
        ]
        if missing:
            hint = (' It looks made for another image set.'
                    if len(missing) == len(data_list) else '')
            raise KeyError(
                f'{path} has no proposals for {len(missing)} of '
                f'{len(data_list)} images of {ann_file}, first: '
                f'{missing[0]} (key {proposal_key(missing[0])!r}).{hint}')
        offsets = pfile.offsets.tolist()
        for info, key in zip(data_list, keys):
            i = index[key]
            info['proposal_rows'] = (offsets[i], offsets[i + 1])
        scanned = scan_max_boxes is None or pfile.num_boxes <= scan_max_boxes
        attached = cls(pfile, max_num, min_size, scanned, stats, nms_iou)
        pfile.forget_keys()
        if scanned:
            attached._scan(data_list)
        else:
            print_log(
                f'{path}: {pfile.num_boxes} proposal boxes (more than '
                f'{scan_max_boxes}) are cleaned per sample, not scanned at '
                'load (proposal_scan_max_boxes=None scans any file)',
                logger='current',
                level=logging.INFO)
        pfile.close()
        return attached

    def _scan(self, data_list: List[dict]) -> None:
        first = {}
        for pos, info in enumerate(data_list):
            bboxes, _, stats = self._clean(info)
            self.stats.add(stats)
            if stats.non_finite:
                first.setdefault('non_finite', info['img_path'])
            if len(bboxes) == 0:
                self.unusable.add(pos)
        if self.stats.any_dropped():
            where = (f', first non-finite in {first["non_finite"]}'
                     if 'non_finite' in first else '')
            print_log(
                f'{self.path}: dropped {self.stats.non_finite} non-finite and '
                f'{self.stats.degenerate} degenerate proposal boxes over '
                f'{self.stats.images} images{where}',
                logger='current',
                level=logging.WARNING)

    def _clean(self, info: dict):
        start, end = info['proposal_rows']
        bboxes, scores = self.pfile.read(start, end)
        return clean_proposals(
            bboxes,
            scores,
            max_num=self.max_num,
            min_size=self.min_size,
            img_shape=(info['height'], info['width']),
            nms_iou=self.nms_iou)

    def sample(self, info: dict) -> dict:
        """``dict(bboxes [K, 4], scores [K])`` of one data info, cleaned."""
        bboxes, scores, stats = self._clean(info)
        if not self.scanned:
            self.stats.add(stats)
            if stats.non_finite and self._name('non_finite'):
                start, end = info['proposal_rows']
                print_log(
                    f'{self.path}: image {info["img_path"]} has '
                    f'{stats.non_finite} non-finite proposal boxes (rows '
                    f'{start}:{end}); dropped',
                    logger='current',
                    level=logging.WARNING)
        return dict(bboxes=bboxes, scores=scores)

    def skip_empty(self, info: dict) -> bool:
        """Whether a training sample is to be refetched: no usable proposal.

        Only happens for files not scanned at load (scanned ones leave such
        images out of the data list); the first few are named in the log.
        """
        if len(info['proposals']['bboxes']):
            return False
        if self._name('empty'):
            print_log(
                f'{self.path}: image {info["img_path"]} has no usable '
                'proposal; skipped (another image is drawn)',
                logger='current',
                level=logging.WARNING)
        return True

    def _name(self, kind: str) -> bool:
        self._named[kind] += 1
        return self._named[kind] <= _MAX_NAMED
