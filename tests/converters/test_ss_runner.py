"""Selective Search tool: parallel, sharded, resumable
(mmdet_csod/datasets/converters/ss_runner.py + CLI)."""
import json
import os
import os.path as osp
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import load_cli

from mmdet_csod.datasets.converters.selective_search import selective_search
from mmdet_csod.datasets.converters.ss_runner import (images_from_ann,
                                                      images_in_dir, parts_dir,
                                                      run_selective_search,
                                                      shard_path)
from mmdet_csod.datasets.proposals import load_proposal_file, save_proposals

N_IMAGES = 5
OLD_MTIME = 1_000_000_000


def rects_of(k):
    """Two filled rectangles per image, as exclusive x1, y1, x2, y2."""
    return [(4 + 3 * k, 5 + k, 24 + 3 * k, 21 + k),
            (36, 18 + 2 * k % 7, 58, 40 + k % 3)]


def draw_image(path, k):
    img = np.full((48, 64, 3), (200, 200, 200), np.uint8)
    colors = [(0, 0, 255), (255, 0, 0)]
    for (x1, y1, x2, y2), color in zip(rects_of(k), colors):
        # cv2 corners are inclusive pixels
        cv2.rectangle(img, (x1, y1), (x2 - 1, y2 - 1), color, -1)
    assert cv2.imwrite(str(path), img)


@pytest.fixture
def img_dir(tmp_path):
    folder = tmp_path / 'imgs'
    folder.mkdir()
    for k in range(N_IMAGES):
        draw_image(folder / f'img_{k}.png', k)
    (folder / 'notes.txt').write_text('not an image')
    return folder


def as_dict(path):
    pfile = load_proposal_file(str(path))
    return {k: pfile.get(k) for k in pfile.keys()}


def assert_same(a, b):
    assert list(a) == list(b)
    for key in a:
        np.testing.assert_array_equal(a[key][0], b[key][0])
        np.testing.assert_array_equal(a[key][1], b[key][1])


def test_finds_drawn_rectangles(img_dir, tmp_path, capsys):
    paths = images_in_dir(str(img_dir))
    assert [osp.basename(p)
            for p in paths] == [f'img_{k}.png' for k in range(N_IMAGES)]
    out = tmp_path / 'ss.npz'
    stats = run_selective_search(paths, str(out), shard_size=2)
    assert capsys.readouterr().out  # a progress display was shown
    assert stats == dict(
        images=5,
        shards=3,
        reused_shards=0,
        computed_images=5,
        boxes=stats['boxes'])
    result = as_dict(out)
    assert list(result) == [f'imgs/img_{k}.png' for k in range(N_IMAGES)]
    for k in range(N_IMAGES):
        bboxes, scores = result[f'imgs/img_{k}.png']
        rows = {tuple(b) for b in bboxes.tolist()}
        for rect in rects_of(k):
            assert rect in rows, (k, rect)
        np.testing.assert_array_equal(scores, 0)
        np.testing.assert_array_equal(
            bboxes, selective_search(cv2.imread(paths[k]), 'fast'))
    assert stats['boxes'] == sum(len(b) for b, _ in result.values())
    assert not osp.exists(parts_dir(str(out)))


def test_workers_and_max_side(img_dir, tmp_path):
    paths = images_in_dir(str(img_dir))
    one = tmp_path / 'one.npz'
    two = tmp_path / 'two.npz'
    run_selective_search(
        paths,
        str(one),
        mode='single',
        max_side=32,
        shard_size=2,
        progress=False)
    run_selective_search(
        paths,
        str(two),
        mode='single',
        max_side=32,
        workers=2,
        shard_size=2,
        progress=False)
    assert_same(as_dict(one), as_dict(two))
    for bboxes, _ in as_dict(one).values():
        assert len(bboxes)
        assert (bboxes[:, :2] >= 0).all()
        assert (bboxes[:, 2] <= 64).all() and (bboxes[:, 3] <= 48).all()


def test_cli_with_ann(img_dir, tmp_path):
    names = ['img_3.png', 'img_0.png', 'img_4.png']
    ann = tmp_path / 'ann.json'
    ann.write_text(
        json.dumps(
            dict(
                images=[
                    dict(id=i + 1, file_name=n, height=48, width=64)
                    for i, n in enumerate(names)
                ],
                annotations=[],
                categories=[])))
    assert images_from_ann(
        str(ann), str(img_dir)) == [osp.join(str(img_dir), n) for n in names]
    out = tmp_path / 'out' / 'ss.npz'
    load_cli('selective_search').main([
        '--ann',
        str(ann), '--img-prefix',
        str(img_dir), '--out',
        str(out), '--workers', '2', '--shard-size', '2', '--no-progress'
    ])
    result = as_dict(out)
    assert list(result) == [f'imgs/{n}' for n in names]
    ref = selective_search(cv2.imread(str(img_dir / 'img_3.png')), 'fast')
    np.testing.assert_array_equal(result['imgs/img_3.png'][0], ref)


def test_resume_reuses_finished_shards(img_dir, tmp_path):
    paths = images_in_dir(str(img_dir))
    ref_file = tmp_path / 'ref.npz'
    run_selective_search(paths, str(ref_file), shard_size=2, progress=False)
    reference = as_dict(ref_file)

    out = tmp_path / 'ss.npz'
    run_selective_search(
        paths, str(out), shard_size=2, keep_parts=True, progress=False)
    shards = [shard_path(str(out), i) for i in range(3)]
    assert all(osp.isfile(s) for s in shards)
    # an interruption: no merged output, shard 1 never written
    os.remove(out)
    os.remove(shards[1])
    for s in (shards[0], shards[2]):
        os.utime(s, (OLD_MTIME, OLD_MTIME))
    stats = run_selective_search(
        paths, str(out), shard_size=2, keep_parts=True, progress=False)
    assert stats['reused_shards'] == 2 and stats['computed_images'] == 2
    assert_same(as_dict(out), reference)
    assert os.stat(shards[0]).st_mtime == OLD_MTIME  # reused, not rewritten
    assert os.stat(shards[2]).st_mtime == OLD_MTIME
    assert os.stat(shards[1]).st_mtime != OLD_MTIME  # recomputed
    # the default removes the parts folder after merging
    os.remove(out)
    stats = run_selective_search(paths, str(out), shard_size=2, progress=False)
    assert stats['reused_shards'] == 3 and stats['computed_images'] == 0
    assert_same(as_dict(out), reference)
    assert not osp.exists(parts_dir(str(out)))


def test_interrupted_by_unreadable_image_then_resumed(img_dir, tmp_path):
    paths = images_in_dir(str(img_dir))
    ref_file = tmp_path / 'ref.npz'
    run_selective_search(paths, str(ref_file), shard_size=2, progress=False)

    good = (img_dir / 'img_3.png').read_bytes()
    (img_dir / 'img_3.png').write_bytes(b'not a png')
    out = tmp_path / 'ss.npz'
    with pytest.raises(ValueError, match=r'cannot read image .*img_3\.png'):
        run_selective_search(paths, str(out), shard_size=2, progress=False)
    assert not out.exists()
    first = shard_path(str(out), 0)
    assert osp.isfile(first)  # img_0, img_1 were finished before the error
    assert not osp.exists(shard_path(str(out), 1))
    os.utime(first, (OLD_MTIME, OLD_MTIME))

    (img_dir / 'img_3.png').write_bytes(good)
    stats = run_selective_search(
        paths, str(out), shard_size=2, keep_parts=True, progress=False)
    assert stats['reused_shards'] == 1 and stats['computed_images'] == 3
    assert os.stat(first).st_mtime == OLD_MTIME  # reused, not rewritten
    assert_same(as_dict(out), as_dict(ref_file))


def test_unreadable_image_in_a_worker(img_dir, tmp_path):
    paths = images_in_dir(str(img_dir))
    (img_dir / 'img_2.png').write_bytes(b'\x89PNG broken')
    with pytest.raises(ValueError, match=r'cannot read image .*img_2\.png'):
        run_selective_search(
            paths,
            str(tmp_path / 'ss.npz'),
            workers=2,
            shard_size=2,
            progress=False)


def test_shard_for_other_images_is_recomputed(img_dir, tmp_path):
    paths = images_in_dir(str(img_dir))
    out = tmp_path / 'ss.npz'
    stale = {
        'imgs/img_0.png': (np.zeros((1, 4)), None),
        'imgs/other.png': (np.zeros((1, 4)), None)
    }
    save_proposals(shard_path(str(out), 0), stale)
    stats = run_selective_search(paths, str(out), shard_size=2, progress=False)
    assert stats['reused_shards'] == 0 and stats['computed_images'] == 5
    ref = selective_search(cv2.imread(paths[0]), 'fast')
    np.testing.assert_array_equal(as_dict(out)['imgs/img_0.png'][0], ref)


def test_parts_of_other_settings_are_not_mixed(img_dir, tmp_path):
    paths = images_in_dir(str(img_dir))
    out = tmp_path / 'ss.npz'
    with pytest.raises(ValueError, match=r'cannot read image'):
        bad = paths[:2] + [str(tmp_path / 'bad.png')]
        Path(bad[-1]).write_bytes(b'xx')
        run_selective_search(
            bad, str(out), mode='single', shard_size=2, progress=False)
    with pytest.raises(
            ValueError,
            match=r'ss\.npz\.parts holds shards of an '
            r"interrupted run with other settings.*'single'"):
        run_selective_search(
            paths, str(out), mode='fast', shard_size=2, progress=False)


def test_concurrent_run_is_refused(img_dir, tmp_path):
    import fcntl  # the lock is POSIX (flock)
    paths = images_in_dir(str(img_dir))
    out = tmp_path / 'ss.npz'
    os.makedirs(parts_dir(str(out)))
    with open(osp.join(parts_dir(str(out)), '.lock'), 'w') as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        f.write('4242')
        f.flush()
        with pytest.raises(
                RuntimeError,
                match=r'another Selective Search '
                r'run \(pid 4242\) is writing to .*ss\.npz\.parts'):
            run_selective_search(paths, str(out), progress=False)
    # the lock is gone with its holder: the run proceeds
    stats = run_selective_search(paths, str(out), progress=False)
    assert stats['computed_images'] == N_IMAGES


def test_bad_inputs(img_dir, tmp_path):
    paths = images_in_dir(str(img_dir))
    with pytest.raises(
            FileNotFoundError,
            match=r'1 of 6 images do not '
            r'exist.*nothere\.png'):
        run_selective_search(
            paths + [str(img_dir / 'nothere.png')],
            str(tmp_path / 'a.npz'),
            progress=False)
    other = tmp_path / 'b' / 'imgs'
    other.mkdir(parents=True)
    draw_image(other / 'img_0.png', 0)
    with pytest.raises(ValueError, match=r"same key.*'imgs/img_0\.png'"):
        run_selective_search(
            paths + [str(other / 'img_0.png')],
            str(tmp_path / 'a.npz'),
            progress=False)
    with pytest.raises(FileNotFoundError, match=r'image folder not found'):
        images_in_dir(str(tmp_path / 'none'))
    with pytest.raises(ValueError, match='mode must be one of'):
        run_selective_search(paths, str(tmp_path / 'a.npz'), mode='slow')
