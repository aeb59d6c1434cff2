"""The generated data set: layout, COCO validity, scene content, proposals,
determinism (same seed, any number of workers) and the command line."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmdet_csod import synthetic as syn
from mmdet_csod.datasets.proposals import load_proposal_file

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CLI = osp.join(REPO_ROOT, 'tools/dataset_converters/make_synthetic.py')
NUM = dict(train=8, val=4)
SEED = 3


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """8 train / 4 val images made by the library with 2 workers."""
    out = str(tmp_path_factory.mktemp('syn_lib'))
    syn.generate_dataset(
        out,
        num_train=NUM['train'],
        num_val=NUM['val'],
        seed=SEED,
        workers=2,
        progress=False)
    return out


@pytest.fixture(scope='module')
def root_cli(tmp_path_factory):
    """The same arguments through the command line, in one process."""
    out = str(tmp_path_factory.mktemp('syn_cli'))
    subprocess.run([
        sys.executable, CLI, '--out', out, '--num-train',
        str(NUM['train']), '--num-val',
        str(NUM['val']), '--seed',
        str(SEED), '--workers', '1', '--quiet'
    ],
                   check=True,
                   cwd=REPO_ROOT)
    return out


def _load(root, split):
    with open(osp.join(root, 'annotations', f'{split}.json')) as f:
        return json.load(f)


def _xyxy(anns):
    return np.array([[
        a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
        a['bbox'][1] + a['bbox'][3]
    ] for a in anns], np.float64)


def test_layout(root):
    assert sorted(
        os.listdir(root)) == ['annotations', 'proposals', 'train', 'val']
    assert sorted(os.listdir(osp.join(root, 'annotations'))) == \
        ['train.json', 'val.json']
    assert sorted(os.listdir(osp.join(root, 'proposals'))) == \
        ['ss_train.npz', 'ss_val.npz']
    for split, n in NUM.items():
        assert sorted(os.listdir(osp.join(root, split))) == \
            [f'{i:06d}.jpg' for i in range(n)]


@pytest.mark.parametrize('split', ['train', 'val'])
def test_coco_json(root, split):
    path = osp.join(root, 'annotations', f'{split}.json')
    coco = COCO(path)
    raw = _load(root, split)
    assert [(c['id'], c['name']) for c in raw['categories']] == \
        [(i + 1, name) for i, name in enumerate(syn.CLASSES)]
    assert syn.CLASSES == ('cart', 'bottle', 'sign', 'house', 'kite', 'person',
                           'horse', 'lamp', 'fish', 'tree')
    info = raw['info']
    assert info['seed'] == SEED and info['split'] == split
    assert info['version'] == syn.GENERATOR_VERSION
    assert info['args']['num_train'] == NUM['train']
    assert [im['id'] for im in raw['images']] == list(range(1, NUM[split] + 1))
    ann_ids = [a['id'] for a in raw['annotations']]
    assert len(set(ann_ids)) == len(ann_ids)
    for im in raw['images']:
        assert im['file_name'] == f'{im["id"] - 1:06d}.jpg'
        img = cv2.imread(osp.join(root, split, im['file_name']))
        assert img is not None
        assert img.shape[:2] == (im['height'], im['width'])
        assert 224 <= im['height'] <= 320 and 224 <= im['width'] <= 320
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[im['id']]))
        assert 2 <= len(anns) <= 6
        for a in anns:
            x, y, w, h = a['bbox']
            assert all(isinstance(v, int) for v in a['bbox'])
            assert w > 0 and h > 0 and x >= 0 and y >= 0
            assert x + w <= im['width'] and y + h <= im['height']
            assert a['area'] == w * h and a['iscrowd'] == 0
            assert 1 <= a['category_id'] <= 10


def test_classes_present(root):
    train = {a['category_id'] for a in _load(root, 'train')['annotations']}
    assert train == set(range(1, 11))
    # every block of 5 images starts with 10 distinct classes
    val = {a['category_id'] for a in _load(root, 'val')['annotations']}
    assert len(val) >= 8


def test_rider_on_horse(root):
    coco = _load(root, 'train')
    person, horse = 6, 7
    riders = 0
    for im in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == im['id']]
        hb = _xyxy([a for a in anns if a['category_id'] == horse])
        pb = _xyxy([a for a in anns if a['category_id'] == person])
        for h in hb:
            for p in pb:
                iw = min(h[2], p[2]) - max(h[0], p[0])
                ih = min(h[3], p[3]) - max(h[1], p[1])
                # overlapping, and the person sits in the top of the horse
                if iw > 0 and ih > 0 and (p[1] + p[3]) < (h[1] + h[3]) \
                        and p[3] < h[3]:
                    riders += 1
    assert riders >= 1


@pytest.mark.parametrize('split', ['train', 'val'])
def test_proposals(root, split):
    props = load_proposal_file(osp.join(root, 'proposals', f'ss_{split}.npz'))
    raw = _load(root, split)
    assert list(
        props.keys()) == [f'{split}/{i:06d}.jpg' for i in range(NUM[split])]
    gts, boxes = [], []
    for im in raw['images']:
        b, s = props.get(f'{split}/{im["file_name"]}')
        assert len(b) > 0 and b.dtype == np.float32
        assert np.all(s == 0)
        assert np.all(b[:, 0] >= 0) and np.all(b[:, 1] >= 0)
        assert np.all(b[:, 2] <= im['width'])
        assert np.all(b[:, 3] <= im['height'])
        assert np.all(b[:, 2] > b[:, 0]) and np.all(b[:, 3] > b[:, 1])
        boxes.append(b)
        gts.append(
            _xyxy([a for a in raw['annotations']
                   if a['image_id'] == im['id']]))
    recall = syn.proposal_recall(gts, boxes, (0.5, ))
    assert recall[0.5] >= 0.8


def _read(*parts):
    with open(osp.join(*parts), 'rb') as f:
        return f.read()


def test_same_seed_same_output_any_workers(root, root_cli):
    for split, n in NUM.items():
        assert _read(root, 'annotations', f'{split}.json') == \
            _read(root_cli, 'annotations', f'{split}.json')
        for i in range(n):
            assert _read(root, split, f'{i:06d}.jpg') == \
                _read(root_cli, split, f'{i:06d}.jpg')
        a = load_proposal_file(osp.join(root, 'proposals', f'ss_{split}.npz'))
        b = load_proposal_file(
            osp.join(root_cli, 'proposals', f'ss_{split}.npz'))
        assert list(a.keys()) == list(b.keys())
        # same boxes in the same order (OpenCV ranks them with C rand())
        assert np.array_equal(a.offsets, b.offsets)
        assert np.array_equal(a.bboxes, b.bboxes)


def test_other_seed_differs(root, tmp_path):
    syn.generate_dataset(
        str(tmp_path),
        num_train=2,
        num_val=1,
        seed=SEED + 1,
        workers=1,
        progress=False)
    for split in ('train', 'val'):
        a, b = _load(root, split), _load(str(tmp_path), split)
        assert a['annotations'][:3] != b['annotations'][:3]
        assert _read(root, split, '000000.jpg') != \
            _read(str(tmp_path), split, '000000.jpg')
    # train and val draw from different streams
    img_t, box_t, _ = syn.render_scene(SEED, 0, 0)
    img_v, box_v, _ = syn.render_scene(SEED, 1, 0)
    assert img_t.shape != img_v.shape or not np.array_equal(img_t, img_v)


def test_render_scene_deterministic_and_boxes_cover_objects():
    for i in range(6):
        img1, b1, l1 = syn.render_scene(0, 0, i)
        img2, b2, l2 = syn.render_scene(0, 0, i)
        assert np.array_equal(img1, img2) and np.array_equal(b1, b2)
        assert np.array_equal(l1, l2)
        assert img1.dtype == np.uint8 and img1.shape[2] == 3
        assert b1.shape == (len(l1), 4) and 2 <= len(l1) <= 6
        assert np.all(b1[:, 2] > b1[:, 0]) and np.all(b1[:, 3] > b1[:, 1])


@pytest.mark.parametrize('cls', syn.CLASSES)
def test_object_patch_is_tight_and_part_is_small(cls):
    rng = np.random.default_rng(7)
    fractions = []
    for _ in range(10):
        obj = syn.render_object(rng, cls, 80.0)
        mask = obj['mask']
        assert obj['img'].shape[:2] == mask.shape
        # the patch (hence the box) is the tight box of what is drawn
        assert mask[0].any() and mask[-1].any()
        assert mask[:, 0].any() and mask[:, -1].any()
        # the part sticks out of the body: the box is more than the body
        bx1, by1, bx2, by2 = obj['body']
        assert (bx2 - bx1) * (by2 - by1) < mask.size
        fractions.append(obj['part_area'] / mask.size)
    assert 0.05 <= np.mean(fractions) <= 0.32, (cls, np.mean(fractions))


def test_bodies_are_shared_between_classes():
    kinds = {}
    for cls, kind in syn.BODY_KIND.items():
        kinds.setdefault(kind, []).append(cls)
    assert set(syn.BODY_KIND) == set(syn.CLASSES)
    assert all(len(v) >= 3 for v in kinds.values())


def test_cli_defaults():
    spec = importlib.util.spec_from_file_location('make_synthetic', CLI)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    args = mod.parse_args([])
    assert (args.out, args.num_train, args.num_val, args.seed) == \
        ('data/synthetic', 2000, 500, 0)
    assert args.workers == os.cpu_count()
    assert args.ss_max_side == syn.DEFAULT_SS_MAX_SIDE
    with pytest.raises(SystemExit):
        mod.parse_args(['--seed', '-1'])


def _carried(boxes, labels, carrier, load):
    """Boxes of class ``load`` standing in the top of a ``carrier`` box."""
    count = 0
    for c in boxes[labels == carrier]:
        for b in boxes[labels == load]:
            iw = min(c[2], b[2]) - max(c[0], b[0])
            ih = min(c[3], b[3]) - max(c[1], b[1])
            if iw > 0 and ih > 0 and b[1] < c[1] and c[1] < b[3] < c[3]:
                count += 1
    return count


def test_cart_loads_put_bottles_in_carts_and_change_nothing_else():
    cart, bottle = syn.CLASSES.index('cart'), syn.CLASSES.index('bottle')
    loaded = plain = same = 0
    for i in range(40):
        img0, b0, l0 = syn.render_scene(3, 0, i)
        img1, b1, l1 = syn.render_scene(3, 0, i, cart_loads=True)
        plain += _carried(b0, l0, cart, bottle)
        loaded += _carried(b1, l1, cart, bottle)
        if cart not in l0 and cart not in l1:
            # no cart drawn: the flag takes no random draw, same scene
            assert np.array_equal(img0, img1) and np.array_equal(b0, b1)
            same += 1
    assert loaded >= 5 and plain <= 1, (loaded, plain)
    assert same >= 5


def test_cart_loads_recorded_only_when_set(tmp_path):
    on = syn.generate_dataset(
        str(tmp_path / 'on'), num_train=1, num_val=1, seed=0, workers=1,
        progress=False, cart_loads=True)
    off = syn.generate_dataset(
        str(tmp_path / 'off'), num_train=1, num_val=1, seed=0, workers=1,
        progress=False)
    assert on['train']['info']['args']['cart_loads'] is True
    assert 'cart_loads' not in off['train']['info']['args']
    spec = importlib.util.spec_from_file_location('make_synthetic', CLI)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.parse_args([]).cart_loads is False
    assert mod.parse_args(['--cart-loads']).cart_loads is True
