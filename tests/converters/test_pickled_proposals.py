"""pcl.pytorch / wetectron proposal pickles -> project npz."""
import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import load_cli

from mmdet_csod.datasets.converters.pickled_proposals import (
    convert_pickled_proposals, detectron_boxes_to_xyxy, load_restricted_pickle,
    read_pickled_proposals)
from mmdet_csod.datasets.proposals import load_proposal_file


# 0-based x1, y1, x2, y2 with inclusive x2/y2 (Detectron)
SRC = {
    5: (np.array([[263, 211, 323, 338], [0, 0, 0, 0], [5, 244, 66, 373]],
                 np.uint16), np.array([0.9, 0.5, 0.25], np.float32)),
    7: (np.array([[140, 49, 499, 329]], np.uint16), np.array([1.0],
                                                             np.float32)),
    2008000008: (np.array([[52, 86, 470, 419], [10, 20, 30, 40]],
                          np.uint16), np.array([0.125, 0.75], np.float32)),
}
FILE_NAMES = {
    5: 'VOC2007/JPEGImages/000005.jpg',
    7: 'VOC2007/JPEGImages/000007.jpg',
    2008000008: 'VOC2012/JPEGImages/2008_000008.jpg'
}
STEMS = {5: '000005', 7: '000007', 2008000008: '2008_000008'}


def write_json(path, ids=(7, 5, 2008000008), file_names=None):
    file_names = file_names or [FILE_NAMES[i] for i in ids]
    images = [
        dict(id=i, file_name=f, height=500, width=500)
        for i, f in zip(ids, file_names)
    ]
    path.write_text(
        json.dumps(dict(images=images, annotations=[], categories=[])))
    return str(path)


def proposal_dict(id_field='indexes',
                  ids=None,
                  with_scores=True,
                  order=(5, 7, 2008000008)):
    ids = list(order) if ids is None else ids
    data = {'boxes': [SRC[i][0] for i in order], id_field: ids}
    if with_scores:
        data['scores'] = [SRC[i][1] for i in order]
    return data


def write_pickle(path, obj, protocol=pickle.DEFAULT_PROTOCOL):
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=protocol)
    return str(path)


class _Py2StylePickler(pickle._Pickler):
    """Writes bytes as Python 2 ``str`` opcodes (BINSTRING), as a pickle
    made by Python 2 holds them."""
    dispatch = pickle._Pickler.dispatch.copy()

    def _save_bytes_py2(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack('<i', len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_bytes_py2


def write_py2_style_pickle(path, obj):
    """Protocol 2, py2 str for text and array data, numpy.core names."""
    import io
    buf = io.BytesIO()
    _Py2StylePickler(buf, protocol=2).dump(obj)
    raw = buf.getvalue().replace(b'numpy._core.', b'numpy.core.')
    assert b'_codecs' not in raw and b'numpy.core.multiarray' in raw
    Path(path).write_bytes(raw)
    return str(path)


def check_round_trip(result, with_scores=True):
    assert list(result) == [
        'JPEGImages/000007.jpg', 'JPEGImages/000005.jpg',
        'JPEGImages/2008_000008.jpg'
    ]  # json order
    for img_id, key in ((7, 'JPEGImages/000007.jpg'),
                        (5, 'JPEGImages/000005.jpg'),
                        (2008000008, 'JPEGImages/2008_000008.jpg')):
        bboxes, scores = result[key]
        src_boxes, src_scores = SRC[img_id]
        assert bboxes.dtype == np.float32
        np.testing.assert_array_equal(bboxes[:, :2], src_boxes[:, :2])
        np.testing.assert_array_equal(bboxes[:, 2:] - 1, src_boxes[:, 2:])
        if with_scores:
            np.testing.assert_array_equal(scores, src_scores)
        else:
            assert scores is None


@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_pcl_indexes_int_ids(tmp_path, protocol):
    pkl = write_pickle(tmp_path / 'voc_2007_trainval.pkl',
                       proposal_dict('indexes'), protocol)
    ann = write_json(tmp_path / 'ann.json')
    check_round_trip(convert_pickled_proposals(pkl, ann))


def test_wetectron_string_ids_match_stems(tmp_path):
    data = proposal_dict(
        'ids', ids=['000005', '000007', '2008_000008'], with_scores=False)
    pkl = write_pickle(tmp_path / 'wetectron.pkl', data)
    # json ids unrelated to the names: only the stems can match
    ann = write_json(
        tmp_path / 'ann.json',
        ids=(1, 2, 3),
        file_names=[FILE_NAMES[7], FILE_NAMES[5], FILE_NAMES[2008000008]])
    check_round_trip(convert_pickled_proposals(pkl, ann), with_scores=False)


def test_numpy_int_ids_and_cli(tmp_path):
    data = proposal_dict('ids', ids=np.array([5, 7, 2008000008], np.int64))
    pkl = write_pickle(tmp_path / 'p.pkl', data)
    ann = write_json(tmp_path / 'ann.json')
    out = tmp_path / 'out' / 'p.npz'
    load_cli('pickled_proposals_to_npz').main([pkl, ann, '--out', str(out)])
    pfile = load_proposal_file(str(out))
    check_round_trip({k: pfile.get(k) for k in pfile.keys()})


def test_python2_style_pickle(tmp_path):
    data = {
        b'boxes': [SRC[i][0] for i in (5, 7, 2008000008)],
        b'scores': [SRC[i][1] for i in (5, 7, 2008000008)],
        b'indexes': [b'000005', b'000007', b'2008_000008']
    }
    pkl = write_py2_style_pickle(tmp_path / 'py2.pkl', data)
    with pytest.raises(UnicodeDecodeError):  # needs encoding='latin1'
        pickle.loads(Path(pkl).read_bytes())
    ann = write_json(tmp_path / 'ann.json')
    check_round_trip(convert_pickled_proposals(pkl, ann))


def test_box_conversion():
    out = detectron_boxes_to_xyxy(
        np.array([[0, 0, 0, 0], [3, 4, 10, 20]], np.uint16))
    np.testing.assert_array_equal(out, [[0, 0, 1, 1], [3, 4, 11, 21]])
    assert out.dtype == np.float32


class _Evil:

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class _EvalEvil:

    def __reduce__(self):
        return (eval, ('1 + 1', ))


def test_forbidden_global_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    data = proposal_dict()
    data['indexes'] = [_Evil(marker), 7, 2008000008]
    pkl = write_pickle(tmp_path / 'evil.pkl', data)
    with pytest.raises(
            ValueError,
            match=r'evil\.pkl: refusing to load '
            r'global (posix|nt|os)\.system'):
        load_restricted_pickle(pkl)
    assert not marker.exists()
    ann = write_json(tmp_path / 'ann.json')
    with pytest.raises(ValueError, match='refusing'):
        convert_pickled_proposals(pkl, ann)
    assert not marker.exists()
    pkl = write_pickle(tmp_path / 'eval.pkl', {'x': _EvalEvil()}, 2)
    with pytest.raises(
            ValueError, match=r'global (__builtin__|builtins)\.eval'):
        load_restricted_pickle(pkl)
    pkl = write_pickle(tmp_path / 'cls.pkl', {'x': Path('a')})
    with pytest.raises(ValueError, match=r'global pathlib'):
        load_restricted_pickle(pkl)


def test_truncated_pickle(tmp_path):
    raw = pickle.dumps(proposal_dict())
    path = tmp_path / 'cut.pkl'
    path.write_bytes(raw[:len(raw) // 2])
    with pytest.raises(ValueError, match=r'cut\.pkl: cannot unpickle'):
        load_restricted_pickle(str(path))


def test_dict_without_ids(tmp_path):
    data = proposal_dict()
    data['image_ids'] = data.pop('indexes')
    pkl = write_pickle(tmp_path / 'noids.pkl', data)
    with pytest.raises(
            ValueError, match=r"noids\.pkl: .*neither 'indexes' "
            r".* nor 'ids'"):
        read_pickled_proposals(pkl)
    pkl = write_pickle(tmp_path / 'list.pkl', [1, 2])
    with pytest.raises(ValueError, match=r'list\.pkl: holds a list'):
        read_pickled_proposals(pkl)


def test_lengths_differ(tmp_path):
    data = proposal_dict()
    data['indexes'] = data['indexes'][:2]
    pkl = write_pickle(tmp_path / 'len.pkl', data)
    with pytest.raises(
            ValueError,
            match=r"len\.pkl: lengths differ.*"
            r"'indexes': 2, 'boxes': 3"):
        read_pickled_proposals(pkl)
    data = proposal_dict()
    data['scores'][1] = np.zeros(4, np.float32)
    pkl = write_pickle(tmp_path / 'sc.pkl', data)
    with pytest.raises(
            ValueError, match=r"sc\.pkl: id 7 has 1 boxes but 4 "
            'scores'):
        read_pickled_proposals(pkl)


def test_ids_not_in_json(tmp_path):
    data = proposal_dict(ids=[5, 7, 123456])
    pkl = write_pickle(tmp_path / 'other.pkl', data)
    ann = write_json(tmp_path / 'ann.json')
    with pytest.raises(
            ValueError,
            match=r"1 of 3 ids of .*other\.pkl match "
            r"no .*ann\.json: \[123456\]"):
        convert_pickled_proposals(pkl, ann)


def test_json_image_without_proposals(tmp_path):
    data = proposal_dict(order=(5, 7))
    pkl = write_pickle(tmp_path / 'two.pkl', data)
    ann = write_json(tmp_path / 'ann.json')
    with pytest.raises(
            ValueError,
            match=r"1 of 3 images of .*ann\.json have "
            r"no proposals in .*two\.pkl.*2008_000008\.jpg"):
        convert_pickled_proposals(pkl, ann)
    with pytest.warns(UserWarning, match='zero boxes'):
        result = convert_pickled_proposals(pkl, ann, allow_missing=True)
    assert result['JPEGImages/2008_000008.jpg'][0].shape == (0, 4)


def test_ambiguous_ids_need_match_by(tmp_path):
    # json ids 1..3 numbered in another order than the names
    ann = write_json(
        tmp_path / 'ann.json',
        ids=(1, 2, 3),
        file_names=['a/000003.jpg', 'a/000001.jpg', 'a/000002.jpg'])
    boxes = [np.array([[0, 0, k, k]], np.float32) for k in (1, 2, 3)]
    pkl = write_pickle(tmp_path / 'amb.pkl', {
        'boxes': boxes,
        'indexes': [1, 2, 3]
    })
    with pytest.raises(
            ValueError,
            match=r'amb\.pkl .*both as image ids and '
            'as file-name stems'):
        convert_pickled_proposals(pkl, ann)
    by_id = convert_pickled_proposals(pkl, ann, match_by='id')
    by_stem = convert_pickled_proposals(pkl, ann, match_by='stem')
    assert by_id['a/000003.jpg'][0][0, 2] == 2  # json id 1 -> boxes[0]
    assert by_stem['a/000003.jpg'][0][0, 2] == 4  # stem 000003 -> boxes[2]
