"""The second scene family (the yard scenes, make_synthetic.py --family yard):
what its scenes hold, its files, and that it leaves the default family as it
was."""
import hashlib
import json
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from mmdet_csod import synthetic as syn
from mmdet_csod.synthetic.metrics import box_iou

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLI = osp.join(REPO_ROOT, 'tools/dataset_converters/make_synthetic.py')
N = 40


@pytest.fixture(scope='module')
def scenes():
    return [syn.render_yard_scene(2, 0, i) for i in range(N)]


def test_scenes_are_valid_and_deterministic(scenes):
    for i, (img, boxes, labels) in enumerate(scenes[:10]):
        again = syn.render_yard_scene(2, 0, i)
        assert np.array_equal(img, again[0])
        assert np.array_equal(boxes, again[1])
        h, w = img.shape[:2]
        assert 224 <= h <= 320 and 224 <= w <= 320 and img.dtype == np.uint8
        assert boxes.shape == (len(labels), 4) and 2 <= len(labels) <= 6
        assert (boxes[:, 2] > boxes[:, 0]).all()
        assert (boxes[:, 3] > boxes[:, 1]).all()
        assert boxes[:, 0::2].max() <= w and boxes[:, 1::2].max() <= h
        assert labels.min() >= 0 and labels.max() < len(syn.YARD_CLASSES)
    assert not np.array_equal(scenes[0][0][:224, :224],
                              syn.render_yard_scene(3, 0, 0)[0][:224, :224])


def test_every_block_of_five_holds_every_class(scenes):
    for start in range(0, N, 5):
        labels = [lab for _, _, lab in scenes[start:start + 5]]
        present = set(np.concatenate(labels).tolist())
        assert present == set(range(len(syn.YARD_CLASSES)))


def _pairs(scenes, carrier, companion):
    """(carrier box, companion box) pairs that overlap or touch."""
    kc = syn.YARD_CLASSES.index(carrier)
    kk = syn.YARD_CLASSES.index(companion)
    out = []
    for _, boxes, labels in scenes:
        for a in boxes[labels == kc]:
            for b in boxes[labels == kk]:
                ix = min(a[2], b[2]) - max(a[0], b[0])
                iy = min(a[3], b[3]) - max(a[1], b[1])
                if ix >= -3 and iy >= -3:
                    out.append((a, b))
    return out


def test_birds_ride_dogs_cups_stand_on_tables_flowers_touch_doors(scenes):
    rides = [(d, b) for d, b in _pairs(scenes, 'dog', 'bird')
             if b[1] < d[1] + 0.3 * (d[3] - d[1]) and b[3] > d[1]]
    assert len(rides) >= 3  # the bird's box over the top of the dog's
    cups = [(t, c) for t, c in _pairs(scenes, 'table', 'cup')
            if abs(c[3] - t[1]) <= 0.35 * (c[3] - c[1])]
    assert len(cups) >= 3  # the cup's foot on the table's top
    flowers = _pairs(scenes, 'door', 'flower')
    assert len(flowers) >= 3


def test_no_base_object_rides_or_touches_another(scenes):
    base = syn.YARD_CLASSES[:5]
    for _, boxes, labels in scenes:
        b = boxes[np.isin(labels, [syn.YARD_CLASSES.index(c) for c in base])]
        if len(b) > 1:
            iou = box_iou(b, b)
            np.fill_diagonal(iou, 0)
            assert iou.max() < 0.2


def test_part_is_small_and_patch_tight():
    rng = np.random.default_rng(0)
    for cls in syn.YARD_CLASSES:
        obj = syn.render_yard_object(rng, cls, 80)
        mask = obj['mask']
        assert mask[0].any() and mask[-1].any()
        assert mask[:, 0].any() and mask[:, -1].any()
        assert 0 < obj['part_area'] < mask.sum()


def test_dataset_files_record_the_family(tmp_path):
    out = str(tmp_path / 'yard')
    cocos = syn.generate_dataset(
        out, num_train=5, num_val=2, seed=1, workers=1, progress=False,
        family='yard')
    with open(osp.join(out, 'annotations', 'train.json')) as f:
        coco = json.load(f)
    assert coco == cocos['train']
    assert [c['name'] for c in coco['categories']] == list(syn.YARD_CLASSES)
    assert coco['info']['args']['family'] == 'yard'
    assert {a['category_id'] for a in coco['annotations']} == set(
        range(1, 11))
    assert osp.isfile(osp.join(out, 'proposals', 'ss_val.npz'))
    with pytest.raises(ValueError, match='family must be one of'):
        syn.generate_split(out, 'val', 1, family='street', progress=False)
    with pytest.raises(ValueError, match='cart_loads'):
        syn.generate_split(
            out, 'val', 1, family='yard', cart_loads=True, progress=False)


def test_cli_family_and_its_errors(tmp_path):
    out = str(tmp_path / 'cli')
    subprocess.run([
        sys.executable, CLI, '--out', out, '--family', 'yard', '--num-train',
        '2', '--num-val', '1', '--workers', '1', '--quiet'
    ], check=True, cwd=REPO_ROOT)
    with open(osp.join(out, 'annotations', 'val.json')) as f:
        assert json.load(f)['categories'][6]['name'] == 'bird'
    bad = subprocess.run([
        sys.executable, CLI, '--out', out, '--family', 'yard',
        '--cart-loads', '--quiet'
    ], capture_output=True, text=True, cwd=REPO_ROOT)
    assert bad.returncode != 0 and '--cart-loads' in bad.stderr


def test_default_family_scenes_unchanged():
    """The placement shared with the yard family leaves the default family's
    scenes as generator version 1.0 (and --cart-loads) drew them: digest of
    the first 6 images of seed 0, with and without cart loads."""
    digest = hashlib.sha256()
    for i in range(6):
        img, boxes, labels = syn.render_scene(0, 0, i, cart_loads=bool(i % 2))
        digest.update(img.tobytes())
        digest.update(boxes.tobytes())
        digest.update(labels.tobytes())
    # at 5cd6c18, before the placement was shared (the whole of seeds 0 and
    # 1, 30 images each, hashed the same before and after)
    assert digest.hexdigest()[:16] == 'fb49ea7e1c4404bb'
