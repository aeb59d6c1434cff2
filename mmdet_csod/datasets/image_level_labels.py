"""Image-level labels (tags) of the COCO-style training json.

An image entry of the json may carry, with or without box annotations::

    {"id": 7, "file_name": "zebra/0001.jpg", "height": 480, "width": 640,
     "image_labels": [3],        # category ids known present
     "negative_labels": [1, 2],  # category ids verified absent
     "unlabeled": "ignore"}      # optional: what the other classes are

Present classes are the union of ``image_labels`` and the classes of the
image's box annotations (as before, a box of an ignored annotation makes its
class present only with ``image_labels_from_ignored``). A class neither
present nor verified absent is *unlabeled*: with ``unlabeled='negative'``
(the default, what an exhaustively box-annotated source means) it counts as
absent; with ``'ignore'`` (partial tags: a search query, an OpenImages-style
label file) it is *unknown* in that image and the image-level and
refinement losses leave it out (``image_label_weights`` 0). The dataset's
``unlabeled`` argument sets it for a source (one dataset of a
``ConcatDataset`` each); an image's ``"unlabeled"`` field overrides it.

This module only reads and checks these fields; :class:`CSODCocoDataset`
calls it from ``load_data_list`` and ``parse_data_info``.
"""
from collections import defaultdict
from typing import Dict, Optional

import numpy as np

UNLABELED_MODES = ('negative', 'ignore')
TAG_FIELDS = ('image_labels', 'negative_labels')


def check_unlabeled_mode(mode, where: str) -> str:
    """``mode`` if it is one of :data:`UNLABELED_MODES`, else ValueError."""
    if mode not in UNLABELED_MODES:
        raise ValueError(f'{where}: unlabeled must be one of '
                         f'{UNLABELED_MODES}, got {mode!r}')
    return mode


def check_image_level_labels(data: dict, ann_file: str) -> None:
    """Check the tag fields of every image of a loaded COCO json.

    Errors name the file, the image (file name and id) and the field: a
    tag field that is not a list of category ids, a category id that is not
    among the json's ``categories``, a class both present (in
    ``image_labels`` or by a box annotation of the image, ignored ones
    included) and in ``negative_labels``, an ``unlabeled`` value that is
    not 'negative' or 'ignore'. Expects the fields that
    ``CSODCocoDataset._read_annotation_file`` checks (image ``id`` and
    ``file_name``, annotation ``image_id`` and ``category_id``).

    Args:
        data (dict): The json (``images``, ``annotations``, ``categories``).
        ann_file (str): Its path, for the messages.

    Raises:
        ValueError: At the first bad field.
    """
    names = {c.get('id'): c.get('name') for c in data['categories']}
    boxed = defaultdict(set)  # image id -> category ids of its annotations
    for ann in data['annotations']:
        boxed[ann['image_id']].add(ann['category_id'])
    for img in data['images']:
        if not any(k in img for k in TAG_FIELDS + ('unlabeled', )):
            continue
        where = f'{ann_file}: image {img["file_name"]!r} (id {img["id"]})'
        tags = {}
        for field in TAG_FIELDS:
            ids = img.get(field, [])
            if not isinstance(ids, list) or not all(
                    isinstance(i, (int, str)) and not isinstance(i, bool)
                    for i in ids):
                raise ValueError(f'{where}: field {field!r} must be a list '
                                 f'of category ids, got {ids!r}')
            unknown = [i for i in ids if i not in names]
            if unknown:
                raise ValueError(
                    f'{where}: field {field!r} has unknown category id(s) '
                    f'{unknown} (categories: {sorted(names, key=str)})')
            tags[field] = set(ids)
        negative = tags['negative_labels']
        for present, what in ((tags['image_labels'],
                               "in field 'image_labels'"),
                              (boxed[img['id']], 'boxed in the image')):
            both = sorted(present & negative, key=str)
            if both:
                raise ValueError(
                    f'{where}: category id(s) {both} '
                    f'({", ".join(str(names[i]) for i in both)}) are both '
                    f"{what} and in field 'negative_labels'")
        if 'unlabeled' in img:
            check_unlabeled_mode(img['unlabeled'], f'{where}: field')


def image_level_labels(img_info: dict, box_labels: np.ndarray,
                       cat2label: Dict[int, int],
                       unlabeled: str) -> Dict[str, np.ndarray]:
    """The image-level targets of one image.

    Args:
        img_info (dict): The json's image entry (checked by
            :func:`check_image_level_labels`).
        box_labels (np.ndarray): float32 [C] multi-hot of the classes its
            box annotations make present.
        cat2label (dict): Category id -> label of the configured classes
            (tags of other categories are not used, as their boxes).
        unlabeled (str): The source's mode, 'negative' or 'ignore'; the
            image's ``"unlabeled"`` field overrides it.

    Returns:
        dict: ``image_labels`` float32 [C] (boxes and ``image_labels``),
        and with mode 'ignore' ``image_label_weights`` float32 [C]: 1 for
        a present or verified absent class, 0 for an unknown one.
    """
    labels = box_labels.copy()
    labels[_labels(img_info.get('image_labels'), cat2label)] = 1
    out = dict(image_labels=labels)
    if img_info.get('unlabeled', unlabeled) == 'ignore':
        weights = (labels > 0).astype(np.float32)
        weights[_labels(img_info.get('negative_labels'), cat2label)] = 1
        out['image_label_weights'] = weights
    return out


def _labels(ids: Optional[list], cat2label: Dict[int, int]) -> list:
    return [cat2label[i] for i in ids or () if i in cat2label]
