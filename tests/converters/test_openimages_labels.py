"""OpenImages image-level label CSV -> training json
(mmdet_csod/datasets/converters/openimages.py + its CLI)."""
import json

import cv2
import pytest
from tag_sources import (by_file, labels_by_name, load_cli,
                         write_class_descriptions, write_csv, write_image,
                         write_oi_labels)

from mmdet_csod.datasets.converters.openimages import (openimages_to_coco,
                                                       read_class_descriptions)

# (ImageID, LabelName, Confidence[, Source]); line numbers = index + 2
ROWS = [
    ('000a1249af2bc5f0', '/m/0898b', '1'),  # Zebra present
    ('000a1249af2bc5f0', '/m/01g317', '0'),  # Person verified absent
    ('000a1249af2bc5f0', '/m/0898b', '1', 'crowdsource-verification'),
    ('0a2b3c4d5e6f7081', '/m/03bk1', '1'),  # Giraffe
    ('0a2b3c4d5e6f7081', '/m/0898b', '0'),
    ('0a2b3c4d5e6f7081', '/m/0cdn1', '1'),  # 'Bell pepper, red'
    ('ffff00001111aaaa', '/m/0k4j', '1'),  # Car only
]
SIZES = {
    '000a1249af2bc5f0': (40, 30),
    '0a2b3c4d5e6f7081': (25, 50),
    'ffff00001111aaaa': (16, 16)
}


@pytest.fixture
def oi(tmp_path):
    image_dir = tmp_path / 'oi' / 'train'
    for k, (image_id, size) in enumerate(SIZES.items()):
        write_image(image_dir / f'{image_id}.jpg', size, seed=k)
    return dict(
        labels=str(write_oi_labels(tmp_path / 'labels.csv', ROWS)),
        classes=str(write_class_descriptions(tmp_path / 'classes.csv')),
        image_dir=str(image_dir),
        tmp=tmp_path)


def test_labels_sizes_and_categories(oi):
    out = oi['tmp'] / 'out' / 'tags.json'
    coco, skips = openimages_to_coco(oi['labels'], oi['classes'],
                                     oi['image_dir'], str(out))
    assert json.loads(out.read_text()) == coco
    # class-description order, only the classes the CSV uses
    assert [c['name'] for c in coco['categories']
            ] == ['Person', 'Zebra', 'Giraffe', 'Car', 'Bell pepper, red']
    assert [c['id'] for c in coco['categories']] == [1, 2, 3, 4, 5]
    assert coco['annotations'] == []
    assert [i['id'] for i in coco['images']] == [1, 2, 3]
    images = by_file(coco)
    assert list(images) == [f'{i}.jpg' for i in SIZES]
    for image_id, (w, h) in SIZES.items():
        img = images[f'{image_id}.jpg']
        assert (img['width'], img['height']) == (w, h)
        assert img['unlabeled'] == 'ignore'
    first = images['000a1249af2bc5f0.jpg']
    assert labels_by_name(coco, first, 'image_labels') == ['Zebra']
    assert labels_by_name(coco, first, 'negative_labels') == ['Person']
    second = images['0a2b3c4d5e6f7081.jpg']
    assert labels_by_name(coco, second,
                          'image_labels') == ['Bell pepper, red', 'Giraffe']
    assert labels_by_name(coco, second, 'negative_labels') == ['Zebra']
    assert coco['info']['label_rows'] == 7
    assert coco['info']['duplicate_rows'] == 1
    assert not skips.items


def test_class_descriptions_with_and_without_header(oi):
    v6 = read_class_descriptions(oi['classes'])
    v7 = read_class_descriptions(
        str(write_class_descriptions(oi['tmp'] / 'v7.csv', header=True)))
    assert v6 == v7
    assert v6['/m/0cdn1'] == 'Bell pepper, red'  # quoted comma
    assert list(v6)[0] == '/m/01g317'
    with_header = openimages_to_coco(oi['labels'], str(oi['tmp'] / 'v7.csv'),
                                     oi['image_dir'])[0]
    without = openimages_to_coco(oi['labels'], oi['classes'],
                                 oi['image_dir'])[0]
    assert with_header['images'] == without['images']
    assert with_header['categories'] == without['categories']


def test_classes_kept_dropped_and_counted(oi):
    coco, skips = openimages_to_coco(
        oi['labels'],
        oi['classes'],
        oi['image_dir'],
        classes=['Giraffe', '/m/0898b'])  # a DisplayName and a LabelName
    assert [c['name'] for c in coco['categories']] == ['Giraffe', 'Zebra']
    # the Car-only image has no label of the kept classes: skipped (ignore)
    assert list(
        by_file(coco)) == ['000a1249af2bc5f0.jpg', '0a2b3c4d5e6f7081.jpg']
    assert skips.items['images with no label of the kept classes'] == [
        'ffff00001111aaaa'
    ]
    assert sorted(skips.items['rows of classes not kept']) == [
        'Bell pepper, red (/m/0cdn1): 1 rows', 'Car (/m/0k4j): 1 rows',
        'Person (/m/01g317): 1 rows'
    ]
    # 'negative': the Car-only image is a negative of both kept classes
    coco, skips = openimages_to_coco(
        oi['labels'],
        oi['classes'],
        oi['image_dir'],
        classes=['Giraffe', 'Zebra'],
        unlabeled='negative')
    car_only = by_file(coco)['ffff00001111aaaa.jpg']
    assert car_only['image_labels'] == [] and 'unlabeled' not in car_only
    assert not any('unlabeled' in img for img in coco['images'])
    assert 'images with no label of the kept classes' not in skips.items


def test_unknown_class_name(oi):
    with pytest.raises(
            ValueError,
            match=r"unknown class name 'Zebr'.*"
            r'classes\.csv.*close: Zebra'):
        openimages_to_coco(
            oi['labels'], oi['classes'], oi['image_dir'], classes=['Zebr'])


def test_label_name_missing_from_descriptions(oi):
    rows = ROWS + [('ffff00001111aaaa', '/m/0notaclass', '1')]
    bad = write_oi_labels(oi['tmp'] / 'bad.csv', rows)
    with pytest.raises(
            ValueError,
            match=r"bad\.csv: line 9 \(image "
            r"ffff00001111aaaa\): LabelName '/m/0notaclass'"):
        openimages_to_coco(str(bad), oi['classes'], oi['image_dir'])


def test_present_and_absent_for_one_image(oi):
    rows = ROWS + [('0a2b3c4d5e6f7081', '/m/03bk1', '0')]
    bad = write_oi_labels(oi['tmp'] / 'conflict.csv', rows)
    with pytest.raises(ValueError) as err:
        openimages_to_coco(str(bad), oi['classes'], oi['image_dir'])
    msg = str(err.value)
    assert 'conflict.csv: line 9 (image 0a2b3c4d5e6f7081)' in msg
    assert "'Giraffe' (/m/03bk1) is absent here and present at line 5" in msg


@pytest.mark.parametrize('conf', ['0.7', 'yes', ''])
def test_bad_confidence(oi, conf):
    bad = write_oi_labels(oi['tmp'] / 'conf.csv',
                          [('000a1249af2bc5f0', '/m/0898b', conf)])
    with pytest.raises(
            ValueError, match=r'conf\.csv: line 2 .*Confidence '
            'must be 1'):
        openimages_to_coco(str(bad), oi['classes'], oi['image_dir'])


def test_bad_header_and_row(oi):
    bad = write_csv(oi['tmp'] / 'hdr.csv',
                    [('000a1249af2bc5f0', '/m/0898b', '1')],
                    ['ImageID', 'LabelName', 'Confidence'])
    with pytest.raises(
            ValueError,
            match=r'hdr\.csv: line 1: expected the '
            'header ImageID,Source,LabelName,Confidence'):
        openimages_to_coco(str(bad), oi['classes'], oi['image_dir'])
    bad = write_csv(oi['tmp'] / 'row.csv', [
        ('000a1249af2bc5f0', 'verification', '/m/0898b', '1'),
        ('000a1249af2bc5f0', '/m/0898b', '1'),
    ], ['ImageID', 'Source', 'LabelName', 'Confidence'])
    with pytest.raises(ValueError, match=r'row\.csv: line 3: expected 4 '):
        openimages_to_coco(str(bad), oi['classes'], oi['image_dir'])
    bad = write_csv(oi['tmp'] / 'desc.csv', [('/m/0898b', 'Zebra', 'x')])
    with pytest.raises(
            ValueError,
            match=r'desc\.csv: line 1: expected '
            'LabelName,DisplayName'):
        read_class_descriptions(str(bad))


def test_shared_display_name(oi):
    classes = write_class_descriptions(
        oi['tmp'] / 'dup.csv',
        classes=[('/m/0898b', 'Zebra'), ('/m/03bk1', 'Zebra')])
    rows = [('000a1249af2bc5f0', '/m/0898b', '1'),
            ('0a2b3c4d5e6f7081', '/m/03bk1', '1')]
    labels = write_oi_labels(oi['tmp'] / 'dup_labels.csv', rows)
    with pytest.raises(
            ValueError, match=r'/m/0898b and /m/03bk1 are both '
            "named 'Zebra'"):
        openimages_to_coco(str(labels), str(classes), oi['image_dir'])
    with pytest.raises(ValueError, match='DisplayName of several'):
        openimages_to_coco(
            str(labels), str(classes), oi['image_dir'], classes=['Zebra'])
    coco, _ = openimages_to_coco(
        str(labels), str(classes), oi['image_dir'], classes=['/m/03bk1'])
    assert list(by_file(coco)) == ['0a2b3c4d5e6f7081.jpg']


def test_missing_image_error_and_skip(oi):
    (oi['tmp'] / 'oi' / 'train' / '0a2b3c4d5e6f7081.jpg').unlink()
    with pytest.raises(FileNotFoundError) as err:
        openimages_to_coco(oi['labels'], oi['classes'], oi['image_dir'])
    msg = str(err.value)
    assert '1 of 3 images' in msg and '0a2b3c4d5e6f7081.jpg' in msg
    assert 'image 0a2b3c4d5e6f7081 (line 5)' in msg
    coco, skips = openimages_to_coco(
        oi['labels'], oi['classes'], oi['image_dir'], skip_missing=True)
    assert len(coco['images']) == 2
    missing = skips.items['images without a file']
    assert len(missing) == 1 and missing[0].endswith('0a2b3c4d5e6f7081.jpg')
    assert [i['id'] for i in coco['images']] == [1, 2]


def test_exif_rotation_and_data_root(oi):
    # stored 40 x 20, EXIF orientation 6 (rotate 90): decoded 20 x 40
    path = write_image(
        oi['tmp'] / 'oi' / 'train' / 'ffff00001111aaaa.jpg', (40, 20),
        orientation=6)
    decoded = cv2.imread(str(path))  # what mmcv's cv2 backend loads
    coco, _ = openimages_to_coco(
        oi['labels'],
        oi['classes'],
        oi['image_dir'],
        data_root=str(oi['tmp'] / 'oi'))
    img = by_file(coco)['train/ffff00001111aaaa.jpg']
    assert (img['height'], img['width']) == decoded.shape[:2] == (40, 20)
    with pytest.raises(ValueError, match='not inside the data root'):
        openimages_to_coco(
            oi['labels'],
            oi['classes'],
            oi['image_dir'],
            data_root=str(oi['tmp'] / 'elsewhere'))


def test_cli(oi, capsys):
    out = oi['tmp'] / 'cli.json'
    load_cli('openimages_labels_to_coco').main([
        oi['labels'], oi['classes'], '--image-dir', oi['image_dir'], '--out',
        str(out), '--classes', 'Zebra', 'Car', '--unlabeled', 'ignore'
    ])
    coco = json.loads(out.read_text())
    assert [c['name'] for c in coco['categories']] == ['Zebra', 'Car']
    assert len(coco['images']) == 3
    text = capsys.readouterr().out
    assert '7 label rows (1 repeating one already read)' in text
    assert '3 images, 2 classes' in text
    assert 'rows of classes not kept: 3' in text
    # Zebra: present in 1 image, verified absent in 1
    assert any(line.split() == ['Zebra', '1', '1']
               for line in text.splitlines())
