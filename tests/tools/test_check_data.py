"""tools/misc/check_data.py on a generated set and corrupted copies of it."""
import importlib.util
import json
import os.path as osp
import shutil
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT, make_synthetic

CONFIG = 'configs/csod/drn_tiny_synthetic.py'
TOOL = osp.join(REPO_ROOT, 'tools', 'misc', 'check_data.py')


def _tool():
    spec = importlib.util.spec_from_file_location('check_data', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    return make_synthetic(
        tmp_path_factory.mktemp('gen') / 'syn', 6, 2, seed=1)


@pytest.fixture
def copy(generated, tmp_path):
    root = str(tmp_path / 'data')
    shutil.copytree(generated, root)
    return root


def _check(root, *options, split='train', extra=()):
    """``(exit status, output)`` of the tool run in this process."""
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = _tool().main([
            CONFIG, '--split', split, *extra, '--cfg-options',
            f'{split}_dataloader.dataset.data_root={root}/', *options
        ])
    return rc, buf.getvalue()


def _row(out, check):
    """``(checked, errors, warnings)`` of a row of the table."""
    for line in out.splitlines():
        if line.startswith(check + '  '):
            cells = line[len(check):].split()
            return tuple(int(c) for c in cells[:3])
    raise AssertionError(f'no row {check!r} in\n{out}')


def _edit_json(root, split, fn):
    path = osp.join(root, 'annotations', f'{split}.json')
    with open(path) as f:
        data = json.load(f)
    fn(data)
    with open(path, 'w') as f:
        json.dump(data, f)
    return data


def test_clean_set_passes(generated):
    for split in ('train', 'val'):
        rc, out = _check(generated, split=split)
        assert rc == 0, out
        for check in ('dataset', 'class split', 'images', 'proposals',
                      'annotations'):
            checked, errors, warnings = _row(out, check)
            assert errors == warnings == 0, out
            assert checked >= 1, out
        assert ': 0 error(s), 0 warning(s): OK' in out
    assert _row(out, 'images')[0] == 2  # val: every image opened
    rc, out = _check(generated)
    with open(osp.join(generated, 'annotations', 'train.json')) as f:
        data = json.load(f)
    assert _row(out, 'images')[0] == 6
    assert _row(out, 'annotations')[0] == len(data['annotations'])
    assert 'boxes dropped by the split' in out  # the novel boxes counted


def test_truncated_jpeg_is_named(copy):
    path = osp.join(copy, 'train', '000001.jpg')
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])
    rc, out = _check(copy)
    assert rc == 1
    assert _row(out, 'images')[1] == 1
    assert f'ERROR {path} (image 2): truncated JPEG' in out


def test_json_size_half_the_real_one_is_named(copy):
    real = {}

    def halve(d):
        img = d['images'][2]
        real.update(img)
        img.update(height=img['height'] // 2, width=img['width'] // 2)

    img = _edit_json(copy, 'train', halve)['images'][2]
    rc, out = _check(copy)
    assert rc == 1
    path = osp.join(copy, 'train', img['file_name'])
    assert (f'ERROR {path} (image {img["id"]}): size {real["width"]}x'
            f'{real["height"]} (width x height) but the annotation file says '
            f'{img["width"]}x{img["height"]}') in out
    # its proposals now fall outside it: named too
    assert f'{path} (image {img["id"]}), rows' in out


def test_proposals_of_another_image_set(copy):
    rc, out = _check(
        copy, 'train_dataloader.dataset.proposal_file=proposals/ss_val.npz')
    assert rc == 1
    assert _row(out, 'proposals')[1] == 6  # every image: no entry
    assert "000000.jpg (image 1): no entry in" in out
    assert 'It looks made for another image set' in out  # the dataset's


def test_proposals_keyed_right_made_for_other_images(copy):
    from mmdet_csod.datasets import load_proposal_file
    from mmdet_csod.datasets.proposals import write_proposal_file
    path = osp.join(copy, 'proposals', 'ss_train.npz')
    p = load_proposal_file(path)
    names, offsets = p.names.tolist(), p.offsets.copy()
    # the boxes of images three times the size
    bboxes, scores = np.asarray(p.bboxes) * 3 + 40, np.asarray(p.scores)
    p.close()
    write_proposal_file(path, names, offsets, [bboxes], [scores])
    rc, out = _check(copy)
    assert rc == 1
    assert f'ERROR {path}: ' in out and 'fall outside their images' in out
    assert 'boxes outside the image' in out  # images named as warnings
    # a higher threshold lets the same file through, with its warnings
    rc, out = _check(copy, extra=('--max-outside-share', '1'))
    assert rc == 0 and _row(out, 'proposals')[2] == 6


def test_nan_box_names_image_and_annotation(copy):

    def nan_box(d):
        d['annotations'][3]['bbox'][2] = float('nan')
        d['annotations'][5]['bbox'][3] = 0.5  # w or h < 1: a warning only

    data = _edit_json(copy, 'train', nan_box)
    nan, thin = data['annotations'][3], data['annotations'][5]
    rc, out = _check(copy)
    assert rc == 1
    assert _row(out, 'annotations')[1:] == (1, 1)
    img = {i['id']: i['file_name'] for i in data['images']}
    assert (f'ERROR {osp.join(copy, "train", img[nan["image_id"]])} (image '
            f'{nan["image_id"]}) annotation {nan["id"]}: non-finite box') \
        in out
    assert (f'(image {thin["image_id"]}) annotation {thin["id"]}: '
            'degenerate box (w or h < 1)') in out


def test_class_split_edit_of_one_dataset_is_named(generated):
    rc, out = _check(
        generated, 'train_dataloader.dataset.metainfo.base_classes='
        '[cart,bottle,sign,house]',
        'train_dataloader.dataset.metainfo.novel_classes='
        '[kite,person,horse,lamp,fish,tree]')
    assert rc == 1
    assert ("'kite' is base in model.class_split but novel in "
            'train_dataloader.dataset.metainfo') in out
    assert "'kite' is base in val_dataloader.dataset.metainfo" in out


def test_max_offenders_and_cli_exit_status(copy, generated):
    for name in ('000000.jpg', '000003.jpg', '000004.jpg'):
        with open(osp.join(copy, 'train', name), 'wb') as f:
            f.write(b'not an image')
    rc, out = _check(copy, extra=('--max-offenders', '2'))
    assert rc == 1 and _row(out, 'images')[1] == 3
    assert out.count('not decodable') == 2  # the first two shown
    for root, status in ((generated, 0), (copy, 1)):
        proc = subprocess.run([
            sys.executable, TOOL, CONFIG, '--cfg-options',
            f'train_dataloader.dataset.data_root={root}/'
        ],
                              cwd=REPO_ROOT,
                              capture_output=True,
                              text=True)
        assert proc.returncode == status, proc.stdout + proc.stderr
    assert '000003.jpg (image 4): not decodable' in proc.stdout


def test_every_member_of_a_dataset_wrapper_is_checked():
    inner = [
        dict(type='CSODCocoDataset', ann_file=f'{i}.json') for i in range(2)
    ]
    cfg = dict(
        type='RepeatDataset',
        times=2,
        dataset=dict(type='ConcatDataset', datasets=inner))
    assert [(n, c['ann_file'])
            for n, c in _tool()._leaves(cfg, 'train_dataloader.dataset')
            ] == [('train_dataloader.dataset.dataset.datasets[0]', '0.json'),
                  ('train_dataloader.dataset.dataset.datasets[1]', '1.json')]
