"""Memory-mapped proposal files: same proposals as the old format, data infos
holding row ranges, reads in data loader workers, errors naming file and image.
"""
import os.path as osp
import pickle
import zipfile

import numpy as np
import pytest
import torch
from dataset_converters.proposals_to_mmap import convert
from dataset_converters.proposals_to_mmap import main as convert_main
from mmengine.logging import MMLogger

from mmdet_csod.datasets import save_proposals
from mmdet_csod.datasets.npz_members import StoredMember
from mmdet_csod.datasets.proposals import load_proposal_file


def save_format1(path, proposals):
    """The old writer: the same fields, zip-compressed, version 1."""
    names, offsets, boxes, scores = [], [0], [], []
    for key, (b, s) in proposals.items():
        b = np.asarray(b, np.float32).reshape(-1, 4)
        names.append(key)
        offsets.append(offsets[-1] + len(b))
        boxes.append(b)
        scores.append(
            np.zeros(len(b), np.float32) if s is
            None else np.asarray(s, np.float32))
    np.savez_compressed(
        path,
        version=np.int64(1),
        file_names=np.asarray(names, dtype=str),
        offsets=np.asarray(offsets, np.int64),
        bboxes=np.concatenate(boxes),
        scores=np.concatenate(scores))


def random_proposals(n_images=6, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(n_images):
        k = [0, 1, 7, 30, 2, 11][i % 6]
        xy = rng.uniform(0, 60, (k, 2))
        wh = rng.uniform(-2, 40, (k, 2))  # some degenerate, some outside
        out[f'imgs/{i}.jpg'] = (np.concatenate([xy, xy + wh],
                                               1), rng.random(k))
    return out


def fill(tiny_coco, proposals):
    for key in proposals:
        tiny_coco.add_image(key.split('/')[1], [('cat', [2, 3, 20, 10])])
    tiny_coco.write()
    tiny_coco.proposals = proposals
    return tiny_coco


def all_proposals(ds):
    return {
        ds.get_data_info(i)['img_path']: ds.get_data_info(i)['proposals']
        for i in range(len(ds))
    }


def test_flat_file_reads_as_the_old_format(tmp_path):
    props = random_proposals()
    props['imgs/3.jpg'][0][4] = np.nan
    save_format1(str(tmp_path / 'old.npz'), props)
    save_proposals(str(tmp_path / 'new.npz'), props)
    with pytest.warns(UserWarning, match=r'old\.npz.*proposals_to_mmap'):
        old = load_proposal_file(str(tmp_path / 'old.npz'))
    new = load_proposal_file(str(tmp_path / 'new.npz'))
    assert not old.mapped and new.mapped
    assert list(old.keys()) == list(new.keys()) == list(props)
    for key, (bboxes, scores) in props.items():
        for f in (old, new):
            b, s = f.get(key)
            assert b.dtype == s.dtype == np.float32
            np.testing.assert_array_equal(b, bboxes.astype(np.float32))
            np.testing.assert_array_equal(s, scores.astype(np.float32))
    # version 2 is uncompressed (the members are mapped in place)
    with zipfile.ZipFile(tmp_path / 'new.npz') as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
    assert int(np.load(tmp_path / 'new.npz')['version']) == 2


def test_dataset_same_proposals_from_both_formats(tiny_coco):
    props = random_proposals()
    props['imgs/5.jpg'][0][3] = np.inf
    fill(tiny_coco, props)
    save_format1(osp.join(tiny_coco.root, 'old.npz'), props)
    save_proposals(osp.join(tiny_coco.root, 'new.npz'), props)
    with pytest.warns(UserWarning, match='compressed'):
        old = tiny_coco.dataset(proposal_file='old.npz', test_mode=True)
    sets = [all_proposals(old)]
    for kw in (dict(), dict(proposal_scan_max_boxes=0)):
        sets.append(
            all_proposals(
                tiny_coco.dataset(
                    proposal_file='new.npz', test_mode=True, **kw)))
    assert len(sets[0]) == len(props)
    for other in sets[1:]:
        assert other.keys() == sets[0].keys()
        for k, p in sets[0].items():
            np.testing.assert_array_equal(other[k]['bboxes'], p['bboxes'])
            np.testing.assert_array_equal(other[k]['scores'], p['scores'])
    # cleaned on reading: clipped to the 80 x 60 image, no degenerate box
    for p in sets[0].values():
        b = p['bboxes']
        assert np.isfinite(b).all() and (b[:, 2:] <= [80, 60]).all()
        assert ((b[:, 2:] - b[:, :2]) >= 1).all()


def test_infos_hold_row_ranges_not_arrays(tiny_coco):
    sizes = []
    for k in (3, 500):
        tiny_coco.images, tiny_coco.annotations = [], []
        tiny_coco.proposals = {}
        for i in range(4):
            tiny_coco.add_image(
                f'{i}.jpg', [('cat', [2, 3, 20, 10])],
                proposals=np.tile([[0, 0, 30, 20]], (k, 1)))
        ds = tiny_coco.write().dataset(serialize_data=True)
        assert len(ds) == 4
        ends = [0] + ds.data_address.tolist()
        for i in range(4):
            info = pickle.loads(ds.data_bytes[ends[i]:ends[i + 1]].tobytes())
            assert 'proposals' not in info
            assert info['proposal_rows'] == (i * k, (i + 1) * k)
            assert all(isinstance(r, int) for r in info['proposal_rows'])
        assert ds.get_data_info(2)['proposals']['bboxes'].shape == (k, 4)
        sizes.append(ds.data_bytes.nbytes)
    # the serialized list does not grow with the boxes (a row number of
    # 2000 pickles in 2 more bytes than one of 12)
    assert sizes[1] - sizes[0] <= 4 * 2 * 2
    # a pickled dataset (what a spawned worker gets) carries no box either
    blob = pickle.dumps(ds)
    assert len(blob) < 20_000
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(
        clone.get_data_info(3)['proposals']['bboxes'],
        ds.get_data_info(3)['proposals']['bboxes'])


def test_file_is_opened_per_process_and_not_pickled(tmp_path):
    props = random_proposals()
    save_proposals(str(tmp_path / 'p.npz'), props)
    pfile = load_proposal_file(str(tmp_path / 'p.npz'))
    member = pfile._bboxes
    assert isinstance(member, StoredMember) and member._file is None
    pfile.get('imgs/3.jpg')
    assert member._file is not None
    clone = pickle.loads(pickle.dumps(member))
    assert clone._file is None and clone.layout == member.layout
    np.testing.assert_array_equal(clone.read(1, 8), member.read(1, 8))
    member._pid = -1  # as if inherited by a forked process: opened again
    old_file = member._file
    member.read(0, 1)
    assert member._file is not old_file
    # the whole member, memory-mapped, equals what np.load reads
    whole = pfile.bboxes
    assert not whole.flags.writeable
    np.testing.assert_array_equal(whole,
                                  np.load(tmp_path / 'p.npz')['bboxes'])
    with pytest.raises(IndexError, match=r'p\.npz: member bboxes'):
        member.read(0, len(member) + 1)


class _Sample(torch.utils.data.Dataset):

    def __init__(self, ds):
        self.ds = ds

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        import os
        out = self.ds[i]
        return os.getpid(), out['img_path'], out['proposals']


def test_data_loader_worker_reads_the_rows(tiny_coco):
    props = random_proposals(12, seed=3)
    fill(tiny_coco, props)
    save_proposals(osp.join(tiny_coco.root, 'p.npz'), props)
    ds = tiny_coco.dataset(
        proposal_file='p.npz',
        test_mode=True,
        serialize_data=True,
        pipeline=[dict(type='LoadProposals', num_max_proposals=None)])
    expect = all_proposals(ds)
    loader = torch.utils.data.DataLoader(
        _Sample(ds), batch_size=None, num_workers=1)
    seen = 0
    import os
    for pid, img_path, bboxes in loader:
        assert pid != os.getpid()
        np.testing.assert_array_equal(
            np.asarray(bboxes), expect[img_path]['bboxes'])
        seen += 1
    assert seen == len(props)


def test_unscanned_file_skips_image_without_usable_proposal(tiny_coco, caplog):
    props = {
        'imgs/a.jpg': (np.array([[0, 0, 10, 10]]), None),
        'imgs/b.jpg': (np.array([[5, 5, 5, 5], [np.nan, 0, 3, 3]]), None),
    }
    fill(tiny_coco, props)
    save_proposals(osp.join(tiny_coco.root, 'p.npz'), props)
    scanned = tiny_coco.dataset(proposal_file='p.npz')
    assert len(scanned) == 1
    assert scanned.load_report['proposals'].non_finite == 1
    lazy = tiny_coco.dataset(proposal_file='p.npz', proposal_scan_max_boxes=0)
    assert len(lazy) == 2
    b = [
        i for i in range(2)
        if lazy.get_data_info(i)['img_path'].endswith('b.jpg')
    ][0]
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        assert lazy.prepare_data(b) is None  # mmengine draws another
        assert lazy[b]['img_path'].endswith('a.jpg')
    finally:
        logger.removeHandler(caplog.handler)
    text = caplog.text
    assert 'p.npz: image' in text and 'b.jpg has 1 non-finite' in text
    assert 'b.jpg has no usable proposal' in text
    assert lazy.load_report['proposals'].non_finite >= 1
    # test mode keeps the image, with zero proposals
    test = tiny_coco.dataset(
        proposal_file='p.npz', proposal_scan_max_boxes=0, test_mode=True)
    assert len(test.prepare_data(b)['proposals']['bboxes']) == 0


def _write_raw(path, **fields):
    np.savez(path, **fields)
    return str(path)


def test_offsets_not_monotonic_names_file_and_image(tmp_path):
    path = _write_raw(
        tmp_path / 'p.npz',
        version=np.int64(2),
        file_names=np.array(['imgs/a.jpg', 'imgs/b.jpg', 'imgs/c.jpg']),
        offsets=np.array([0, 3, 1, 4]),
        bboxes=np.zeros((4, 4), np.float32),
        scores=np.zeros(4, np.float32))
    with pytest.raises(
            ValueError,
            match=r'p\.npz: field offsets is not monotonic: '
            r"image 1 \('imgs/b\.jpg'\)"):
        load_proposal_file(path)
    with pytest.raises(ValueError, match=r"p\.npz.*'imgs/b\.jpg'"):
        convert(path, str(tmp_path / 'out.npz'))
    assert not osp.exists(tmp_path / 'out.npz')


@pytest.mark.parametrize('fields, match', [
    (dict(offsets=np.array([0, 2, 3])), 'ends at 3 but field bboxes has 4'),
    (dict(offsets=np.array([1, 2, 4])), 'starts at 1'),
    (dict(offsets=np.array([0, 4])), r'2 entries, expected 3'),
    (dict(bboxes=np.zeros((4, 5), np.float32)), 'field bboxes'),
    (dict(scores=np.zeros(3, np.float32)), 'field scores'),
    (dict(version=np.int64(7)), 'format version 7'),
    (dict(file_names=np.array(['imgs/a.jpg', 'imgs/a.jpg'])),
     "'imgs/a.jpg' appears twice"),
])
def test_bad_fields_name_the_file(tmp_path, fields, match):
    base = dict(
        version=np.int64(2),
        file_names=np.array(['imgs/a.jpg', 'imgs/b.jpg']),
        offsets=np.array([0, 2, 4]),
        bboxes=np.zeros((4, 4), np.float32),
        scores=np.zeros(4, np.float32))
    base.update(fields)
    path = _write_raw(tmp_path / 'bad.npz', **base)
    with pytest.raises(ValueError, match=r'bad\.npz.*' + match):
        load_proposal_file(path)


def test_truncated_file_names_file_and_member(tmp_path):
    save_proposals(str(tmp_path / 'p.npz'), random_proposals())
    data = (tmp_path / 'p.npz').read_bytes()
    (tmp_path / 'cut.npz').write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r'cut\.npz'):
        load_proposal_file(str(tmp_path / 'cut.npz'))


def test_missing_image_key_names_file_and_image(tiny_coco):
    props = random_proposals(3)
    fill(tiny_coco, props)
    del props['imgs/1.jpg']
    save_proposals(osp.join(tiny_coco.root, 'p.npz'), props)
    with pytest.raises(
            KeyError,
            match=r"p\.npz has no proposals for 1 of 3 "
            r".*1\.jpg \(key 'imgs/1\.jpg'\)"):
        tiny_coco.dataset(proposal_file='p.npz')


def test_converter_round_trip_and_non_finite_error(tmp_path, capsys):
    props = random_proposals(12, seed=5)
    save_format1(str(tmp_path / 'old.npz'), props)
    info = convert(
        str(tmp_path / 'old.npz'), str(tmp_path / 'new.npz'), chunk_rows=5)
    assert info['compressed'] and info['version'] == 1
    assert info['images'] == 12 and info['boxes'] == sum(
        len(b) for b, _ in props.values())
    new = load_proposal_file(str(tmp_path / 'new.npz'))
    assert new.mapped
    for key, (b, s) in props.items():
        np.testing.assert_array_equal(new.get(key)[0], b.astype(np.float32))
        np.testing.assert_array_equal(new.get(key)[1], s.astype(np.float32))
    # in place, by the command line
    convert_main([str(tmp_path / 'old.npz'), str(tmp_path / 'old.npz')])
    assert 'format 2 (from format 1, compressed)' in capsys.readouterr().out
    assert load_proposal_file(str(tmp_path / 'old.npz')).mapped

    props['imgs/9.jpg'][0][1, 2] = np.nan
    save_format1(str(tmp_path / 'nan.npz'), props)
    first = sum(len(props[f'imgs/{i}.jpg'][0]) for i in range(9))
    with pytest.raises(
            ValueError,
            match=rf"nan\.npz: field bboxes: row {first + 1} of "
            r"image 'imgs/9\.jpg'"):
        convert(
            str(tmp_path / 'nan.npz'), str(tmp_path / 'x.npz'), chunk_rows=4)
    assert not osp.exists(tmp_path / 'x.npz')
    assert not osp.exists(str(tmp_path / 'x.npz') + '.tmp.npz')
    info = convert(
        str(tmp_path / 'nan.npz'),
        str(tmp_path / 'x.npz'),
        allow_non_finite=True)
    assert info['non_finite'] == dict(bboxes=1, scores=0)
