"""VOC XML -> COCO json (mmdet_csod/datasets/converters/voc.py + CLI)."""
import json
import os.path as osp
from pathlib import Path

import pytest
from conftest import load_cli

from mmdet_csod.datasets.converters.voc import (VOC_CLASSES, parse_voc_xml,
                                                voc_to_coco)


# (name, xmin, ymin, xmax, ymax, difficult or None for no <difficult> tag)
IMAGES = {
    ('2007', '000005'): ((500, 375), [('chair', 263, 211, 324, 339, 0),
                                      ('chair', 165, 264, 253, 372, 1),
                                      ('pottedplant', 5, 244, 67, 374, 0)]),
    ('2007', '000007'): ((500, 333), [('car', 141, 50, 500, 330, None)]),
    ('2012', '2008_000008'): ((500, 442), [('horse', 53, 87, 471, 420, 0),
                                           ('person', 158, 44, 289, 167, 1)]),
}
SETS = {
    ('2007', 'trainval'): ['000005', '000007'],
    ('2012', 'trainval'): ['2008_000008']
}


def voc_xml(size, objects, with_size=True):
    objs = []
    for name, x1, y1, x2, y2, diff in objects:
        diff_tag = '' if diff is None else f'<difficult>{diff}</difficult>'
        objs.append(
            f'<object><name>{name}</name><pose>Left</pose>'
            f'<truncated>0</truncated>{diff_tag}<bndbox><xmin>{x1}</xmin>'
            f'<ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>'
            '</object>')
    size_tag = (f'<size><width>{size[0]}</width><height>{size[1]}</height>'
                '<depth>3</depth></size>') if with_size else ''
    return (f'<annotation><folder>VOC</folder><filename>x.jpg</filename>'
            f'{size_tag}<segmented>0</segmented>{"".join(objs)}</annotation>')


def write_devkit(root: Path, images=IMAGES, sets=SETS):
    for (year, img_id), (size, objects) in images.items():
        ann_dir = root / f'VOC{year}' / 'Annotations'
        ann_dir.mkdir(parents=True, exist_ok=True)
        (ann_dir / f'{img_id}.xml').write_text(voc_xml(size, objects))
    for (year, name), ids in sets.items():
        set_dir = root / f'VOC{year}' / 'ImageSets' / 'Main'
        set_dir.mkdir(parents=True, exist_ok=True)
        (set_dir / f'{name}.txt').write_text(''.join(i + '\n' for i in ids))
    return root


@pytest.fixture
def devkit(tmp_path):
    return write_devkit(tmp_path / 'VOCdevkit')


def test_images_categories_and_ids(devkit):
    coco = voc_to_coco(str(devkit), ['2007/trainval', '2012/trainval'])
    assert [c['name'] for c in coco['categories']] == list(VOC_CLASSES)
    assert [c['id'] for c in coco['categories']] == list(range(1, 21))
    assert VOC_CLASSES[0] == 'aeroplane' and VOC_CLASSES[-1] == 'tvmonitor'
    assert len(VOC_CLASSES) == 20
    images = coco['images']
    assert [i['file_name'] for i in images] == [
        'VOC2007/JPEGImages/000005.jpg', 'VOC2007/JPEGImages/000007.jpg',
        'VOC2012/JPEGImages/2008_000008.jpg'
    ]
    assert [i['id'] for i in images] == [5, 7, 2008000008]
    assert [(i['width'], i['height']) for i in images] == [(500, 375),
                                                           (500, 333),
                                                           (500, 442)]
    # running ids
    coco = voc_to_coco(
        str(devkit), ['2007/trainval', '2012/trainval'], id_mode='index')
    assert [i['id'] for i in coco['images']] == [1, 2, 3]
    assert [a['image_id'] for a in coco['annotations']] == [1, 1, 1, 2, 3, 3]


def test_boxes_round_trip_and_difficult(devkit):
    coco = voc_to_coco(str(devkit), ['2007/trainval', '2012/trainval'])
    by_id = {i['id']: i for i in coco['images']}
    anns = coco['annotations']
    assert [a['id'] for a in anns] == list(range(1, len(anns) + 1))
    expected = []
    for (year, img_id), (_, objects) in IMAGES.items():
        for name, x1, y1, x2, y2, diff in objects:
            expected.append((f'VOC{year}/JPEGImages/{img_id}.jpg', name,
                             (x1, y1, x2, y2), diff or 0))
    assert len(anns) == len(expected)
    for ann, (file_name, name, xyxy, diff) in zip(anns, expected):
        assert by_id[ann['image_id']]['file_name'] == file_name
        assert VOC_CLASSES[ann['category_id'] - 1] == name
        x, y, w, h = ann['bbox']
        # x, y, x + w, y + h are the XML's numbers exactly
        assert (x, y, x + w, y + h) == xyxy
        assert ann['area'] == w * h
        assert ann['iscrowd'] == diff and ann['difficult'] == diff
    assert sum(a['iscrowd'] for a in anns) == 2


def test_fractional_coordinates_kept(tmp_path):
    root = write_devkit(
        tmp_path / 'VOCdevkit',
        images={
            ('2007', '000001'): ((100, 80), [('dog', 1.5, 2, 50.25, 40, 0)])
        },
        sets={('2007', 'test'): ['000001']})
    coco = voc_to_coco(str(root), ['2007/test'])
    x, y, w, h = coco['annotations'][0]['bbox']
    assert (x, y, x + w, y + h) == (1.5, 2, 50.25, 40)


def test_cli_writes_json(devkit, tmp_path):
    out = tmp_path / 'ann' / 'voc0712.json'
    load_cli('voc_to_coco').main([
        str(devkit), '--sets', '2007/trainval', '2012/trainval', '--out',
        str(out)
    ])
    with open(out) as f:
        written = json.load(f)
    assert written == voc_to_coco(
        str(devkit), ['2007/trainval', '2012/trainval'])


def test_loads_in_mmdet_with_difficult_ignored(devkit, tmp_path):
    from mmdet.datasets import CocoDataset
    out = tmp_path / 'voc07.json'
    voc_to_coco(str(devkit), ['2007/trainval'], str(out))
    ds = CocoDataset(
        ann_file=str(out),
        data_root=str(devkit),
        data_prefix=dict(img=''),
        metainfo=dict(classes=VOC_CLASSES),
        pipeline=[],
        test_mode=True,
        lazy_init=False)
    info = ds.get_data_info(0)
    assert info['img_path'] == osp.join(
        str(devkit), 'VOC2007/JPEGImages/000005.jpg')
    assert [i['ignore_flag'] for i in info['instances']] == [0, 1, 0]
    assert info['instances'][0]['bbox'] == [263, 211, 324, 339]
    assert info['instances'][0]['bbox_label'] == VOC_CLASSES.index('chair')


def test_image_set_lists_id_without_xml(devkit):
    path = devkit / 'VOC2007' / 'ImageSets' / 'Main' / 'trainval.txt'
    path.write_text('000005\n000099\n')
    with pytest.raises(FileNotFoundError, match=r"'000099'.*000099\.xml"):
        voc_to_coco(str(devkit), ['2007/trainval'])


def test_missing_set_file(devkit):
    with pytest.raises(FileNotFoundError, match=r'ImageSets/Main/test\.txt'):
        voc_to_coco(str(devkit), ['2007/test'])


def test_missing_xml_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r'nothere\.xml'):
        parse_voc_xml(str(tmp_path / 'nothere.xml'))


def test_malformed_xml(devkit):
    xml = devkit / 'VOC2007' / 'Annotations' / '000007.xml'
    xml.write_text('<annotation><size><width>5</width></annotation')
    with pytest.raises(ValueError, match=r'000007\.xml: malformed XML'):
        voc_to_coco(str(devkit), ['2007/trainval'])


def test_unknown_class(devkit):
    xml = devkit / 'VOC2012' / 'Annotations' / '2008_000008.xml'
    xml.write_text(voc_xml((10, 10), [('unicorn', 1, 1, 5, 5, 0)]))
    with pytest.raises(
            ValueError, match=r"2008_000008\.xml: unknown class 'unicorn'"):
        voc_to_coco(str(devkit), ['2012/trainval'])


def test_missing_size(devkit):
    xml = devkit / 'VOC2007' / 'Annotations' / '000005.xml'
    xml.write_text(voc_xml(None, [('car', 1, 1, 5, 5, 0)], with_size=False))
    with pytest.raises(ValueError, match=r'000005\.xml: no <size>'):
        voc_to_coco(str(devkit), ['2007/trainval'])
    xml.write_text('<annotation><size><width>5</width></size></annotation>')
    with pytest.raises(
            ValueError, match=r'000005\.xml: <size> has no '
            r'<height>'):
        voc_to_coco(str(devkit), ['2007/trainval'])


def test_missing_box_coordinate(devkit):
    xml = devkit / 'VOC2007' / 'Annotations' / '000005.xml'
    xml.write_text(
        '<annotation><size><width>5</width><height>5</height></size>'
        '<object><name>car</name><bndbox><xmin>1</xmin><ymin>1</ymin>'
        '<xmax>3</xmax></bndbox></object></annotation>')
    with pytest.raises(ValueError, match=r'000005\.xml: .*car.* <ymax>'):
        voc_to_coco(str(devkit), ['2007/trainval'])


def test_image_listed_twice(devkit):
    with pytest.raises(ValueError, match=r'000005\.jpg gets image id 5'):
        voc_to_coco(str(devkit), ['2007/trainval', '2007/trainval'])


def test_non_numeric_ids_need_index_mode(tmp_path):
    root = write_devkit(
        tmp_path / 'VOCdevkit',
        images={('2007', 'img_a'): ((10, 10), [('cat', 1, 1, 5, 5, 0)])},
        sets={('2007', 'val'): ['img_a']})
    with pytest.raises(ValueError, match=r"val\.txt: image id 'img_a'"):
        voc_to_coco(str(root), ['2007/val'])
    coco = voc_to_coco(str(root), ['2007/val'], id_mode='index')
    assert coco['images'][0]['id'] == 1


def test_bad_set_spec(devkit):
    with pytest.raises(ValueError, match='YEAR/SET'):
        voc_to_coco(str(devkit), ['trainval'])
