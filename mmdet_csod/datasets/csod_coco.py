"""A COCO-format dataset that applies the cross-supervision split at load time.

VOC is converted to COCO json (``tools/dataset_converters/voc_to_coco.py``), so
this one class serves VOC, COCO and the generated dataset.
"""
import json
import logging
import os.path as osp
from collections import Counter
from typing import List, Optional, Union

import numpy as np
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS
from mmengine.fileio import get_local_path
from mmengine.logging import print_log

from ..structures import complete_class_split
from .dataset_proposals import SCAN_MAX_BOXES, AttachedProposals
from .image_level_labels import (check_image_level_labels,
                                 check_unlabeled_mode, image_level_labels)
from .proposals import ProposalStats, check_nms_iou
from .transforms.checked_loading import BadImageError, BadImageSkips

SUPERVISION_MODES = ('cross', 'weak', 'full')
_NAMED_SKIPS = 5  # skipped annotations named in the log, per reason


def annotation_box_problem(bbox, height: int, width: int) -> Optional[str]:
    """Why a COCO ``[x, y, w, h]`` box of an image of ``height`` x
    ``width`` cannot be used, or None: the reasons the dataset skips
    annotations for (``tools/misc/check_data.py`` reports the same)."""
    if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool)
            for v in bbox):
        return 'non-numeric box'
    x1, y1, w, h = bbox
    if not np.isfinite([x1, y1, w, h]).all():
        return 'non-finite box (NaN or inf)'
    if w < 1 or h < 1:
        return 'degenerate box (w or h < 1)'
    inter_w = max(0, min(x1 + w, width) - max(x1, 0))
    inter_h = max(0, min(y1 + h, height) - max(y1, 0))
    if inter_w * inter_h == 0:
        return 'box outside its image'
    return None


@DATASETS.register_module()
class CSODCocoDataset(CocoDataset):
    """COCO-format detection data split into base and novel classes.

    ``metainfo`` carries ``classes`` (all classes, the label order of every
    model), ``base_classes`` (boxes are used for training) and
    ``novel_classes`` (image-level labels only); the split is config data.

    What a training sample holds depends on ``supervision``:

    - ``'cross'``: boxes of base classes only. Novel boxes are dropped here,
      while the annotation file is parsed, so no pipeline step can let one
      through: a novel object survives only as its image-level label. Not in
      ``instances``, not as an ignored instance, nowhere in the data info.
    - ``'weak'``: no boxes at all, image-level labels for every class (the
      WSOD baselines).
    - ``'full'``: every box (the fully supervised upper bound).

    With ``test_mode=True`` every box is kept, whatever ``supervision`` says,
    so that base and novel AP can be measured.

    Every data info holds ``image_labels``: float32 multi-hot [num_classes] in
    ``metainfo['classes']`` order, computed from all annotations before the
    split is applied, united with the image entry's ``image_labels`` (ids
    known present); with ``unlabeled='ignore'`` also ``image_label_weights``
    (float32 [num_classes], 0 for a class neither present nor in the image's
    ``negative_labels``), see :mod:`mmdet_csod.datasets.image_level_labels`.

    With ``proposal_file`` every data info also holds ``proposals``:
    dict(bboxes [K, 4] float32 xyxy, scores [K] float32), read from the
    file when the info is (the stored info holds only its rows, see
    :mod:`mmdet_csod.datasets.dataset_proposals`).

    Bad input is an error that names the file and the image (corrupt json,
    an unknown category id, a missing image file, an image without a proposal
    entry); boxes that cannot be used (degenerate or outside the image) and
    training images with nothing to learn from are skipped, counted in
    ``load_report`` and logged (each skipped annotation's reason with the
    first image and annotation ids). A training image the pipeline's
    ``LoadImageFromFileChecked`` cannot use (unreadable, not decodable,
    truncated, or of another size than the json's) is skipped when drawn,
    named in the log, and counted up to ``max_bad_images``.

    Args:
        supervision (str): 'cross', 'weak' or 'full'. Defaults to 'cross'.
        num_max_proposals (int, optional): Proposals kept per image, in file
            order. Defaults to 2000.
        proposal_min_size (float): Proposals narrower or lower than this, after
            clipping to the image, are dropped. Defaults to 1.
        proposal_nms_iou (float, optional): Before the first
            ``num_max_proposals`` are kept, a proposal whose IoU with an
            earlier one of its image (file order) is above this is dropped,
            so the kept ones are distinct boxes (counted as
            ``near_duplicate`` in ``load_report``). None (the default) keeps
            near-duplicates; give the same value as the test pipeline's
            ``proposal_cfg.nms_iou``.
        image_labels_from_ignored (bool): Whether ignored annotations
            (``iscrowd``, VOC ``difficult``) make their class present in the
            image-level labels. The WSOD literature on VOC leaves difficult
            objects out. Defaults to False.
        check_image_files (bool): Fail at construction when an image file is
            missing (local files only). Defaults to True.
        proposal_scan_max_boxes (int, optional): A proposal file of at most
            this many boxes is cleaned whole at load (counted report, training
            images without a usable proposal left out); a bigger one only per
            sample. None: always. Defaults to 50M (about 1 GB of boxes).
        max_bad_images (int | float, optional): Bad training images one
            process (the main process, each data loader worker) may skip
            before the run stops with their list: an int >= 0, or a float
            in (0, 1), a share of the dataset's images (rounded up); None:
            no limit. Every image bad stops the run whatever the limit.
            Defaults to 0.01 (see
            ``BadImageSkips`` in ./transforms/checked_loading.py).
        unlabeled (str): A class neither present nor in ``negative_labels``
            is absent ('negative', the default) or unknown ('ignore'); an
            image's ``"unlabeled"`` field overrides it.
    """

    def __init__(self,
                 *args,
                 supervision: str = 'cross',
                 num_max_proposals: Optional[int] = 2000,
                 proposal_min_size: float = 1.0,
                 proposal_nms_iou: Optional[float] = None,
                 image_labels_from_ignored: bool = False,
                 check_image_files: bool = True,
                 proposal_scan_max_boxes: Optional[int] = SCAN_MAX_BOXES,
                 unlabeled: str = 'negative',
                 max_bad_images: Union[int, float, None] = 0.01,
                 **kwargs) -> None:
        if supervision not in SUPERVISION_MODES:
            raise ValueError(
                f'supervision must be one of {SUPERVISION_MODES}, '
                f'got {supervision!r}')
        self.supervision = supervision
        self.num_max_proposals = num_max_proposals
        self.proposal_min_size = proposal_min_size
        check_nms_iou(proposal_nms_iou, 'proposal_nms_iou')
        self.proposal_nms_iou = proposal_nms_iou
        self.image_labels_from_ignored = image_labels_from_ignored
        self.check_image_files = check_image_files
        self.proposal_scan_max_boxes = proposal_scan_max_boxes
        self.unlabeled = check_unlabeled_mode(unlabeled, 'CSODCocoDataset')
        self._proposals: Optional[AttachedProposals] = None
        self._bad_images = BadImageSkips(max_bad_images)
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------ meta
    @classmethod
    def _load_metainfo(cls, metainfo: dict = None) -> dict:
        return complete_class_split(super()._load_metainfo(metainfo))

    @property
    def base_labels(self) -> List[int]:
        """Label indices of the base classes."""
        classes = self.metainfo['classes']
        return [classes.index(c) for c in self.metainfo['base_classes']]

    @property
    def novel_labels(self) -> List[int]:
        """Label indices of the novel classes."""
        classes = self.metainfo['classes']
        return [classes.index(c) for c in self.metainfo['novel_classes']]

    # ------------------------------------------------------------- loading
    def load_data_list(self) -> List[dict]:
        """Read the COCO json once, validate it, and parse every image."""
        data = self._read_annotation_file()
        check_image_level_labels(data, self.ann_file)
        coco = self.COCOAPI()
        coco.dataset = data
        coco.createIndex()
        # Labels follow metainfo['classes'] by name, whatever the json order.
        name_to_id = {c['name']: c['id'] for c in data['categories']}
        self.cat_ids = [name_to_id[c] for c in self.metainfo['classes']]
        self.cat2label = {cat_id: i for i, cat_id in enumerate(self.cat_ids)}
        self.cat_img_map = {k: list(v) for k, v in coco.cat_img_map.items()}
        if self.supervision == 'cross' and not self.test_mode:
            self._kept_labels = set(self.base_labels)
        elif self.supervision == 'weak' and not self.test_mode:
            self._kept_labels = set()
        else:
            self._kept_labels = set(range(len(self.metainfo['classes'])))
        self._skips = Counter()
        self.load_report = dict(
            skipped_annotations=self._skips,
            skipped_annotation_ids={},  # reason -> first (image, ann) ids
            skipped_images=Counter(),
            proposals=ProposalStats())
        data_list = []
        for img_id in coco.get_img_ids():
            raw_img_info = dict(coco.imgs[img_id], img_id=img_id)
            # = load_anns(get_ann_ids(img_ids=[img_id])), without their
            # per-call overhead (0.7 s of CPU for COCO train2017's images)
            raw_ann_info = list(coco.imgToAnns[img_id])
            data_list.append(
                self.parse_data_info(
                    dict(raw_ann_info=raw_ann_info,
                         raw_img_info=raw_img_info)))
        for reason, n in sorted(self._skips.items()):
            first = ', '.join(
                f'image {i} ({name}) annotation {a}' for i, name, a in
                self.load_report['skipped_annotation_ids'][reason])
            print_log(
                f'{self.ann_file}: skipped {n} annotation(s): {reason}; '
                f'first: {first}',
                logger='current',
                level=logging.WARNING)
        return data_list

    def _skip_annotation(self, reason: str, img_info: dict,
                         ann: dict) -> None:
        """Count a skipped annotation; keep the first ids per reason."""
        self._skips[reason] += 1
        ids = self.load_report['skipped_annotation_ids'].setdefault(
            reason, [])
        if len(ids) < _NAMED_SKIPS:
            ids.append((img_info['img_id'], img_info['file_name'],
                        ann.get('id')))

    def _read_annotation_file(self) -> dict:
        """Load and check the json; errors name the file, image and field."""
        with get_local_path(
                self.ann_file, backend_args=self.backend_args) as local_path:
            if not osp.isfile(local_path):
                raise FileNotFoundError(
                    f'annotation file not found: {self.ann_file}')
            try:
                with open(local_path) as f:
                    data = json.load(f)
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise ValueError(
                    f'{self.ann_file}: not valid JSON ({e})') from e
        if not isinstance(data, dict):
            raise ValueError(f'{self.ann_file}: expected a COCO json object')
        for key in ('images', 'annotations', 'categories'):
            if not isinstance(data.get(key), list):
                raise ValueError(
                    f'{self.ann_file}: field {key!r} missing or not a list')
        cat_ids = {c.get('id') for c in data['categories']}
        img_files = {}
        for img in data['images']:
            for key in ('id', 'file_name', 'height', 'width'):
                if key not in img:
                    raise ValueError(f'{self.ann_file}: image {img} has no '
                                     f'field {key!r}')
            if img['id'] in img_files:
                raise ValueError(f'{self.ann_file}: image id {img["id"]} is '
                                 'not unique')
            img_files[img['id']] = img['file_name']
        ann_ids = set()
        for ann in data['annotations']:
            for key in ('id', 'image_id', 'category_id', 'bbox'):
                if key not in ann:
                    raise ValueError(f'{self.ann_file}: annotation '
                                     f'{ann.get("id")} has no field {key!r}')
            if ann['id'] in ann_ids:
                raise ValueError(f'{self.ann_file}: annotation id {ann["id"]}'
                                 ' is not unique')
            ann_ids.add(ann['id'])
            if ann['image_id'] not in img_files:
                raise ValueError(
                    f'{self.ann_file}: annotation {ann["id"]} '
                    f'refers to unknown image id {ann["image_id"]}')
            if ann['category_id'] not in cat_ids:
                raise ValueError(
                    f'{self.ann_file}: annotation {ann["id"]} of image '
                    f'{img_files[ann["image_id"]]!r} has unknown category id '
                    f'{ann["category_id"]} (categories: {sorted(cat_ids)})')
            if not (isinstance(ann['bbox'], list) and len(ann['bbox']) == 4):
                raise ValueError(
                    f'{self.ann_file}: annotation {ann["id"]} of image '
                    f'{img_files[ann["image_id"]]!r}: bbox must be [x, y, w, '
                    f'h], got {ann["bbox"]!r}')
        names = [c.get('name') for c in data['categories']]
        missing = [c for c in self.metainfo['classes'] if c not in names]
        if missing:
            raise ValueError(f'{self.ann_file}: classes {missing} of the '
                             f'config are not among its categories {names}')
        return data

    def parse_data_info(self, raw_data_info: dict) -> dict:
        """Parse one image; the split is applied here.

        Returns:
            dict: img_path, img_id, height, width, instances (list of dict(
            bbox [4] xyxy, bbox_label, ignore_flag)), image_labels
            (float32 [num_classes]) and with 'ignore' image_label_weights.
        """
        img_info = raw_data_info['raw_img_info']
        img_path = osp.join(self.data_prefix['img'], img_info['file_name'])
        height, width = img_info['height'], img_info['width']
        num_classes = len(self._metainfo['classes'])  # not a deep copy
        image_labels = np.zeros(num_classes, dtype=np.float32)
        instances = []
        for ann in raw_data_info['raw_ann_info']:
            if ann['category_id'] not in self.cat2label:
                self._skip_annotation('category not in the configured '
                                      'classes', img_info, ann)
                continue
            label = self.cat2label[ann['category_id']]
            ignored = bool(
                ann.get('iscrowd', False) or ann.get('ignore', False))
            if not ignored or self.image_labels_from_ignored:
                image_labels[label] = 1
            problem = annotation_box_problem(ann['bbox'], height, width)
            if problem is not None:
                self._skip_annotation(problem, img_info, ann)
                continue
            x1, y1, w, h = ann['bbox']
            if label not in self._kept_labels:
                continue  # the split: this class is image-level only here
            instances.append(
                dict(
                    bbox=[x1, y1, x1 + w, y1 + h],
                    bbox_label=label,
                    ignore_flag=int(ignored)))
        return dict(
            img_path=img_path,
            img_id=img_info['img_id'],
            seg_map_path=None,
            height=height,
            width=width,
            instances=instances,
            **image_level_labels(img_info, image_labels, self.cat2label,
                                 self.unlabeled))

    def load_proposals(self) -> None:
        """Give every data info the rows of its proposals in the file.

        Every image must have an entry; boxes are cleaned with
        :func:`clean_proposals` (near-duplicates dropped with
        ``proposal_nms_iou``) and truncated to ``num_max_proposals`` when a
        sample is read (and once at load for files of at most
        ``proposal_scan_max_boxes`` boxes, counted in ``load_report``).
        """
        path = self.proposal_file
        if not osp.isabs(path) and self.data_root:
            path = osp.join(self.data_root, path)
        self.proposal_file = path
        self._proposals = AttachedProposals.attach(
            path,
            self.data_list,
            self.ann_file,
            max_num=self.num_max_proposals,
            min_size=self.proposal_min_size,
            stats=self.load_report['proposals'],
            scan_max_boxes=self.proposal_scan_max_boxes,
            nms_iou=self.proposal_nms_iou)

    def get_data_info(self, idx: int) -> dict:
        """The data info of sample ``idx``, proposals read from the file."""
        info = super().get_data_info(idx)
        if self._proposals is not None and 'proposal_rows' in info:
            info['proposals'] = self._proposals.sample(info)
            del info['proposal_rows']
        return info

    def prepare_data(self, idx: int):
        """The pipeline's output; None (refetch) for a training image whose
        proposals all went in cleaning (files not scanned at load only), or
        that the pipeline found bad (:class:`BadImageError`: counted, named
        once, limited by ``max_bad_images``). In test mode a bad image is
        an error."""
        if not self.test_mode and self._bad_images.known(idx):
            return None
        info = self.get_data_info(idx)
        if not self.test_mode and 'proposals' in info and \
                self._proposals.skip_empty(info):
            return None
        if self.test_mode:
            return self.pipeline(info)
        try:
            return self.pipeline(info)
        except BadImageError as e:
            self._bad_images.skip(idx, info, e, len(self), self.ann_file)
            return None

    # ------------------------------------------------------------ filtering
    def filter_data(self) -> List[dict]:
        """Check image files; in training, skip images with nothing to learn.

        A training image is skipped (counted and logged) when it has neither
        an image-level label nor a box nor (with unknown classes) a verified
        absent class, when ``filter_cfg.min_size`` says it is
        too small, or when none of its proposals survived cleaning.
        """
        if self.check_image_files:
            self._check_image_files()
        if self.test_mode:
            return self.data_list
        cfg = self.filter_cfg or {}
        filter_empty = cfg.get('filter_empty_gt', True)
        min_size = cfg.get('min_size', 0)
        kept, skips = [], self.load_report['skipped_images']
        unusable = self._proposals.unusable if self._proposals else ()
        for pos, info in enumerate(self.data_list):
            if filter_empty and not info['image_labels'].any() \
                    and not info['instances'] \
                    and not np.any(info.get('image_label_weights', 0)):
                skips['no annotation'] += 1
            elif min(info['width'], info['height']) < min_size:
                skips[f'smaller than min_size={min_size}'] += 1
            elif pos in unusable:
                skips['no usable proposal'] += 1
            else:
                kept.append(info)
        for reason, n in sorted(skips.items()):
            print_log(
                f'{self.ann_file}: skipped {n} training image(s): '
                f'{reason}',
                logger='current',
                level=logging.WARNING)
        return kept

    def _check_image_files(self) -> None:
        if self.backend_args or not self.data_list:
            return
        missing = [
            d['img_path'] for d in self.data_list
            if not osp.isfile(d['img_path'])
        ]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} image file(s) listed in {self.ann_file} do '
                f'not exist, first: {missing[0]}')

    def get_cat_ids(self, idx: int) -> List[int]:
        """Labels present in image ``idx`` (from its image-level labels)."""
        return np.flatnonzero(self.get_data_info(idx)['image_labels']).tolist()
