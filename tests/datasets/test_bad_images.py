"""Bad images and annotations: named, counted, skipped up to a limit."""
import os.path as osp
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, loader_options, make_synthetic
from mmengine.dataset import Compose
from mmengine.logging import MMLogger

from mmdet_csod.datasets.transforms import (BadImageError, BadImageLimitError,
                                            LoadImageFromFileChecked,
                                            read_image)

LOAD = [dict(type='LoadImageFromFileChecked')]
ALL = [f'{n}.jpg' for n in 'abcd']


def _jpeg(path, h=60, w=80):
    img = np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8)
    cv2.imwrite(str(path), img)
    with open(path, 'rb') as f:
        return f.read()


def _truncate(path):
    with open(path, 'rb') as f:
        data = f.read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 2])


def test_read_image_names_the_file_and_the_reason(tmp_path):
    good = tmp_path / 'good.jpg'
    data = _jpeg(good)
    assert read_image(str(good), expected_hw=(60, 80)).shape == (60, 80, 3)
    cases = {
        'missing.jpg': (None, 'cannot be read (FileNotFoundError'),
        'empty.jpg': (b'', 'empty file (0 bytes)'),
        'cut.jpg': (data[:len(data) // 2], 'truncated JPEG'),
        'text.png': (b'hello, not an image', 'not decodable'),
    }
    for name, (content, reason) in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(BadImageError) as info:
            read_image(str(path))
        assert info.value.path == str(path)
        assert info.value.reason.startswith(reason), info.value.reason
        assert str(info.value).startswith(f'{path}: ')
    with pytest.raises(
            BadImageError,
            match=r'size 80x60 \(width x height\) '
            'but the annotation file says 40x30$'):
        read_image(str(good), expected_hw=(30, 40))
    with pytest.raises(BadImageError, match='says 60x80 .transposed'):
        read_image(str(good), expected_hw=(80, 60))


def test_jpeg_with_data_after_its_end_marker_is_fine(tmp_path):
    path = tmp_path / 'motion.jpg'
    data = _jpeg(path)
    path.write_bytes(data + b'appended video or padding' * 40)
    assert read_image(str(path)).shape == (60, 80, 3)
    path.write_bytes(data + b'\0' * 100)
    assert read_image(str(path)).shape == (60, 80, 3)


def test_transform_checks_size_and_keeps_mmcv_options(tmp_path):
    path = str(tmp_path / 'a.jpg')
    _jpeg(path)
    info = dict(img_path=path, height=60, width=80)
    out = Compose(LOAD)(dict(info))
    assert out['img'].shape == (60, 80, 3) and out['ori_shape'] == (60, 80)
    wrong = dict(info, height=30)
    with pytest.raises(BadImageError, match='says 80x30'):
        Compose(LOAD)(dict(wrong))
    unchecked = LoadImageFromFileChecked(check_size=False)
    assert unchecked(dict(wrong))["img_shape"] \
        == (60, 80)
    _truncate(path)
    assert LoadImageFromFileChecked(ignore_empty=True)(dict(info)) is None
    out = LoadImageFromFileChecked(to_float32=True)
    assert 'check_size=True' in repr(out)


def _dataset(tiny_coco, bad=(), **kwargs):
    for name in 'abcd':
        tiny_coco.add_image(f'{name}.jpg', [('cat', [2, 3, 20, 10])])
    tiny_coco.write()
    for name in bad:
        _truncate(osp.join(tiny_coco.root, 'imgs', name))
    return tiny_coco.dataset(pipeline=LOAD, **kwargs)


def _logged(caplog, fn):
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        return fn()
    finally:
        logger.removeHandler(caplog.handler)


def test_bad_training_image_is_skipped_named_once_and_counted(
        tiny_coco, caplog):
    ds = _dataset(tiny_coco, bad=['b.jpg'], max_bad_images=1)
    b = [i for i in range(4) if ds[i]['img_path'].endswith('b.jpg')]
    assert b == []  # drawn, found bad, another one given
    paths = _logged(caplog, lambda: [ds[i]['img_path'] for i in range(4)] * 3)
    assert all(not p.endswith('b.jpg') for p in paths)
    assert list(ds._bad_images.bad.values()) == [
        f'{osp.join(tiny_coco.root, "imgs", "b.jpg")}: truncated JPEG '
        f'({osp.getsize(osp.join(tiny_coco.root, "imgs", "b.jpg"))} bytes, '
        'no end-of-image marker)'
    ]
    # named once in this process, though drawn again and again
    assert caplog.text.count('skipped training image') <= 1
    # test mode: an error naming the file
    test = tiny_coco.dataset(pipeline=LOAD, test_mode=True)
    with pytest.raises(BadImageError, match='b.jpg: truncated JPEG'):
        [test[i] for i in range(4)]


def test_log_line_names_image_reason_count_and_limit(tiny_coco, caplog):
    ds = _dataset(tiny_coco, bad=['c.jpg'], max_bad_images=0.5)
    c = [
        i for i in range(4)
        if ds.get_data_info(i)['img_path'].endswith('c.jpg')
    ][0]
    assert _logged(caplog, lambda: ds.prepare_data(c)) is None
    text = caplog.text
    assert 'ann.json: skipped training image' in text
    assert 'imgs/c.jpg (image id 3): truncated JPEG' in text
    assert '1 skipped in the main process' in text
    assert 'max_bad_images=0.5 = 2 of 4 images per process' in text
    assert ds._bad_images.known(c) and ds.prepare_data(c) is None


def test_past_the_limit_the_run_stops_with_the_list(tiny_coco):
    ds = _dataset(tiny_coco, bad=['a.jpg', 'c.jpg'], max_bad_images=1)
    with pytest.raises(BadImageLimitError) as info:
        [ds[i] for i in range(4)]
    msg = str(info.value)
    assert 'main process' in msg and 'met 2 bad training image(s), more ' \
        'than max_bad_images=1' in msg
    assert 'imgs/a.jpg: truncated JPEG' in msg
    assert 'imgs/c.jpg: truncated JPEG' in msg


def test_every_image_bad_stops_even_without_a_limit(tiny_coco):
    ds = _dataset(tiny_coco, bad=ALL, max_bad_images=None)
    with pytest.raises(
            BadImageLimitError,
            match='every one of its 4 images is bad') as info:
        ds[0]
    assert all(f'imgs/{n}.jpg' in str(info.value) for n in 'abcd')


def test_strict_limit_and_bad_settings(tiny_coco):
    ds = _dataset(tiny_coco, bad=['d.jpg'], max_bad_images=0)
    with pytest.raises(BadImageLimitError, match='d.jpg'):
        [ds[i] for i in range(4)]
    for value in (-1, 1.5, 0.0, '3', True):
        with pytest.raises(ValueError, match='max_bad_images'):
            tiny_coco.dataset(pipeline=LOAD, max_bad_images=value)


def test_data_loader_worker_counts_and_names_itself(tiny_coco):
    ds = _dataset(tiny_coco, bad=ALL, max_bad_images=2)
    loader = torch.utils.data.DataLoader(
        ds, batch_size=None, num_workers=1, collate_fn=lambda x: x)
    with pytest.raises(Exception) as info:
        next(iter(loader))
    msg = str(info.value)
    assert isinstance(info.value, BadImageLimitError), msg
    assert 'data loader worker 0 of 1' in msg
    assert 'more than max_bad_images=2' in msg and 'per process' in msg
    assert ds._bad_images.bad == {}  # the main process met none


def test_skipped_annotations_give_the_real_reason_and_ids(tiny_coco, caplog):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10]),
                                  ('cat', [2, 3, float('nan'), 10]),
                                  ('dog', [2, 3, 0.5, 10]),
                                  ('dog', [500, 500, 10, 10]),
                                  ('cat', [1, 1, float('inf'), 5])])
    tiny_coco.write()
    ds = _logged(caplog, lambda: tiny_coco.dataset(supervision='full'))
    assert len(ds.get_data_info(0)['instances']) == 1
    skips = ds.load_report['skipped_annotations']
    assert skips == {
        'non-finite box (NaN or inf)': 2,
        'degenerate box (w or h < 1)': 1,
        'box outside its image': 1
    }
    ids = ds.load_report['skipped_annotation_ids']
    assert ids['non-finite box (NaN or inf)'] == [(1, 'a.jpg', 2),
                                                  (1, 'a.jpg', 5)]
    assert ids['degenerate box (w or h < 1)'] == [(1, 'a.jpg', 3)]
    text = caplog.text
    assert ('skipped 2 annotation(s): non-finite box (NaN or inf); first: '
            'image 1 (a.jpg) annotation 2, image 1 (a.jpg) annotation 5') \
        in text
    assert 'box outside its image; first: image 1 (a.jpg) annotation 4' \
        in text


# ----------------------------------------------------------- training runs
CONFIG = 'configs/fast_rcnn/fast_rcnn_small-vgg_synthetic-base.py'


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
    return make_synthetic(
        tmp_path_factory.mktemp('gen') / 'syn', 6, 2, seed=2)


def _train(root, work, *extra):
    opts = [
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=100',
        'default_hooks.logger.interval=1'
    ] + loader_options(root + '/') + list(extra)
    return subprocess.run([
        sys.executable, 'tools/train.py', CONFIG, '--work-dir', work,
        '--cfg-options', *opts
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)


def test_training_skips_a_corrupt_image_and_names_it(generated, tmp_path):
    root = str(tmp_path / 'data')
    shutil.copytree(generated, root)
    bad = osp.join(root, 'train', '000002.jpg')
    _truncate(bad)
    proc = _train(root, str(tmp_path / 'work'))
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    assert f'skipped training image {bad} (image id 3): truncated JPEG' in log
    assert osp.isfile(osp.join(tmp_path, 'work', 'epoch_1.pth'))


def test_training_with_every_image_corrupt_stops_with_the_list(
        generated, tmp_path):
    root = str(tmp_path / 'data')
    shutil.copytree(generated, root)
    for i in range(6):
        _truncate(osp.join(root, 'train', f'{i:06d}.jpg'))
    # in a data loader worker: the error reaches the main process
    proc = _train(root, str(tmp_path / 'work'),
                  'train_dataloader.num_workers=1')
    log = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert 'BadImageLimitError' in log
    assert 'data loader worker 0 of 1' in log
    assert 'met 2 bad training image(s), more than max_bad_images=0.01 = ' \
        '1 of 6 images' in log, log[-4000:]
    assert log.count(': truncated JPEG (') >= 4  # 2 logged, 2 listed
    assert not osp.isfile(osp.join(tmp_path, 'work', 'epoch_1.pth'))
