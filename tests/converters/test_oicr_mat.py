"""OICR / Fast R-CNN Selective Search .mat -> project npz."""
import json

import numpy as np
import pytest
import scipy.io
from conftest import load_cli

from mmdet_csod.datasets.converters.oicr_mat import (convert_oicr_mat,
                                                     oicr_boxes_to_xyxy,
                                                     read_oicr_mat)
from mmdet_csod.datasets.proposals import load_proposal_file


# 1-based inclusive y1, x1, y2, x2, as in the OICR files
MAT_BOXES = {
    '000007':
    np.array([[1, 1, 333, 500], [50, 141, 330, 500]], np.float64),
    '000005':
    np.array([[212, 264, 340, 325], [245, 6, 375, 68], [1, 1, 1, 1]],
             np.float64),
    '000009':
    np.zeros((0, 0), np.float64),  # an image with no box
}


def write_mat(path,
              boxes=MAT_BOXES,
              images_shape=(-1, 1),
              boxes_shape=(1, -1),
              **extra):
    """A .mat like selective_search_data/*.mat: two cell arrays."""
    ids = list(boxes)
    images = np.empty(len(ids), dtype=object)
    cells = np.empty(len(ids), dtype=object)
    for k, img_id in enumerate(ids):
        images[k] = img_id
        cells[k] = boxes[img_id]
    scipy.io.savemat(
        str(path),
        dict(
            images=images.reshape(images_shape),
            boxes=cells.reshape(boxes_shape),
            **extra))
    return str(path)


def write_json(path, file_names):
    images = [
        dict(id=k + 1, file_name=f, height=500, width=500)
        for k, f in enumerate(file_names)
    ]
    path.write_text(
        json.dumps(dict(images=images, annotations=[], categories=[])))
    return str(path)


VOC_NAMES = [
    'VOC2007/JPEGImages/000005.jpg', 'VOC2007/JPEGImages/000007.jpg',
    'VOC2007/JPEGImages/000009.jpg'
]


def test_read_cells(tmp_path):
    mat = write_mat(tmp_path / 'ss.mat')
    ids, boxes = read_oicr_mat(mat)
    assert ids == ['000007', '000005', '000009']
    for img_id, arr in zip(ids, boxes):
        np.testing.assert_array_equal(arr, MAT_BOXES[img_id].reshape(-1, 4))


def test_box_conversion():
    src = np.array([[212, 264, 340, 325], [1, 1, 1, 1]], np.float64)
    out = oicr_boxes_to_xyxy(src)
    # 1-based inclusive y1,x1,y2,x2 -> 0-based exclusive x1,y1,x2,y2
    np.testing.assert_array_equal(out, [[263, 211, 325, 340], [0, 0, 1, 1]])
    assert out.dtype == np.float32
    # a one-pixel box stays one pixel wide and high
    np.testing.assert_array_equal(out[1, 2:] - out[1, :2], [1, 1])


def test_convert_round_trip(tmp_path):
    mat = write_mat(tmp_path / 'voc_2007_trainval.mat')
    ann = write_json(tmp_path / 'ann.json', VOC_NAMES)
    out = tmp_path / 'props' / 'ss.npz'
    load_cli('oicr_mat_to_proposals').main([mat, ann, '--out', str(out)])
    pfile = load_proposal_file(str(out))
    # json order, keys as the dataset computes them
    assert list(pfile.keys()) == [
        'JPEGImages/000005.jpg', 'JPEGImages/000007.jpg',
        'JPEGImages/000009.jpg'
    ]
    for key in pfile.keys():
        img_id = key.split('/')[1][:-4]
        src = MAT_BOXES[img_id].reshape(-1, 4)
        bboxes, scores = pfile.get(key)
        assert bboxes.shape == src.shape
        np.testing.assert_array_equal(scores, np.zeros(len(src)))
        # back to 1-based inclusive y1, x1, y2, x2
        back = np.stack(
            [bboxes[:, 1] + 1, bboxes[:, 0] + 1, bboxes[:, 3], bboxes[:, 2]],
            axis=1)
        np.testing.assert_array_equal(back, src)


def test_img_prefix_gives_the_dataset_key(tmp_path):
    mat = write_mat(
        tmp_path / 'ss.mat', images_shape=(1, -1), boxes_shape=(-1, 1))
    ann = write_json(tmp_path / 'ann.json',
                     ['000009.jpg', '000007.jpg', '000005.jpg'])
    result = convert_oicr_mat(mat, ann, img_prefix='data/VOC2007/JPEGImages/')
    assert list(result) == [
        'JPEGImages/000009.jpg', 'JPEGImages/000007.jpg',
        'JPEGImages/000005.jpg'
    ]
    np.testing.assert_array_equal(result['JPEGImages/000007.jpg'][0],
                                  [[0, 0, 500, 333], [140, 49, 500, 330]])


def test_mat_id_absent_from_json(tmp_path):
    mat = write_mat(tmp_path / 'ss.mat')
    ann = write_json(tmp_path / 'ann.json', VOC_NAMES[:2])
    with pytest.raises(
            ValueError, match=r"ss\.mat match no image.*ann\.json"
            r".*'000009'"):
        convert_oicr_mat(mat, ann)


def test_json_image_without_proposals(tmp_path):
    boxes = {k: v for k, v in MAT_BOXES.items() if k != '000009'}
    mat = write_mat(tmp_path / 'ss.mat', boxes)
    ann = write_json(tmp_path / 'ann.json', VOC_NAMES)
    with pytest.raises(
            ValueError,
            match=r"1 of 3 images of .*ann\.json have "
            r"no proposals in .*ss\.mat.*000009\.jpg"):
        convert_oicr_mat(mat, ann)
    out = tmp_path / 'out.npz'
    with pytest.warns(UserWarning, match=r'1 of 3 images.*zero boxes'):
        load_cli('oicr_mat_to_proposals').main(
            [mat, ann, '--out', str(out), '--allow-missing'])
    pfile = load_proposal_file(str(out))
    assert len(pfile) == 3
    assert pfile.get('JPEGImages/000009.jpg')[0].shape == (0, 4)
    assert pfile.get('JPEGImages/000005.jpg')[0].shape == (3, 4)


def test_v73_file_is_refused_with_hint(tmp_path):
    path = tmp_path / 'v73.mat'
    header = b'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: x HDF5'
    path.write_bytes(
        header.ljust(512, b' ') + b'\x89HDF\r\n\x1a\n' + b'\0' * 64)
    with pytest.raises(
            ValueError, match=r"v73\.mat: .*v7\.3 \(HDF5\).*"
            r"'-v7'"):
        read_oicr_mat(str(path))


def test_not_a_mat_file(tmp_path):
    path = tmp_path / 'junk.mat'
    path.write_bytes(b'hello' * 100)
    with pytest.raises(ValueError, match=r'junk\.mat: cannot read'):
        read_oicr_mat(str(path))
    with pytest.raises(FileNotFoundError, match=r'none\.mat'):
        read_oicr_mat(str(tmp_path / 'none.mat'))


def test_missing_variable_and_bad_shapes(tmp_path):
    path = tmp_path / 'nobox.mat'
    scipy.io.savemat(
        str(path), dict(images=np.array(['000005'], dtype=object)))
    with pytest.raises(ValueError, match=r"nobox\.mat: no variable.*'boxes'"):
        read_oicr_mat(str(path))
    mat = write_mat(tmp_path / 'bad.mat', {
        '000005': np.ones((2, 5)),
        '000007': np.ones((1, 4))
    })
    with pytest.raises(
            ValueError, match=r"bad\.mat: boxes of image '000005'"
            r".*\(2, 5\)"):
        read_oicr_mat(mat)
    mat = write_mat(tmp_path / 'twice.mat', MAT_BOXES)
    data = scipy.io.loadmat(mat)
    data['images'][2, 0] = np.array(['000005'])
    scipy.io.savemat(mat, dict(images=data['images'], boxes=data['boxes']))
    with pytest.raises(
            ValueError, match=r"twice\.mat: .*more than once.*"
            r"'000005'"):
        read_oicr_mat(mat)
