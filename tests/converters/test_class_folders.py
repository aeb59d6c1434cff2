"""ROOT/<class>/<image> folders -> training json
(mmdet_csod/datasets/converters/class_folders.py + its CLI)."""
import json
import os
import shutil

import pytest
from tag_sources import by_file, labels_by_name, load_cli, write_image

from mmdet_csod.datasets.converters.class_folders import class_folders_to_coco


@pytest.fixture
def root(tmp_path):
    """zebra: a.jpg, sub/b.png, notes.txt, .DS_Store; giraffe: c.jpg (the
    bytes of zebra/a.jpg), a.jpg (same name as zebra/a.jpg, other bytes);
    lion: empty; README.md directly under ROOT."""
    root = tmp_path / 'tagged'
    write_image(root / 'zebra' / 'a.jpg', (30, 20), seed=1)
    write_image(root / 'zebra' / 'sub' / 'b.png', (12, 34), seed=2)
    (root / 'zebra' / 'notes.txt').write_text('query: zebra')
    (root / 'zebra' / '.DS_Store').write_bytes(b'\0\1')
    (root / 'giraffe').mkdir()
    shutil.copy(root / 'zebra' / 'a.jpg', root / 'giraffe' / 'c.jpg')
    write_image(root / 'giraffe' / 'a.jpg', (30, 20), seed=3)
    (root / 'lion').mkdir()
    (root / 'README.md').write_text('tagged images')
    return root


def test_labels_duplicates_and_skips(root):
    coco, skips = class_folders_to_coco(str(root))
    assert [c['name']
            for c in coco['categories']] == ['giraffe', 'lion', 'zebra']
    images = by_file(coco)
    # giraffe/c.jpg and zebra/a.jpg hold the same bytes: one image, first
    # copy in category order (giraffe) named; giraffe/a.jpg is another image
    assert sorted(images) == [
        'giraffe/a.jpg', 'giraffe/c.jpg', 'zebra/sub/b.png'
    ]
    assert labels_by_name(coco, images['giraffe/c.jpg'],
                          'image_labels') == ['giraffe', 'zebra']
    assert labels_by_name(coco, images['giraffe/a.jpg'],
                          'image_labels') == ['giraffe']
    assert labels_by_name(coco, images['zebra/sub/b.png'],
                          'image_labels') == ['zebra']
    assert (images['zebra/sub/b.png']['width'],
            images['zebra/sub/b.png']['height']) == (12, 34)
    assert (images['giraffe/c.jpg']['width'],
            images['giraffe/c.jpg']['height']) == (30, 20)
    assert [i['id'] for i in coco['images']] == [1, 2, 3]
    # 'negative' (default): no unlabeled field, absences implied
    assert all('unlabeled' not in i and i['negative_labels'] == []
               for i in coco['images'])
    assert coco['annotations'] == []
    merged = skips.items['identical copies merged into one image']
    assert merged == [f'{root}/zebra/a.jpg (= {root}/giraffe/c.jpg)']
    assert skips.items['non-image files'] == [f'{root}/zebra/notes.txt']
    assert skips.items['hidden files and folders'] == [
        f'{root}/zebra/.DS_Store'
    ]
    assert skips.items['files outside a class folder'] == [f'{root}/README.md']
    assert skips.items['class folders without images'] == [f'{root}/lion']


def test_classes_subset_order_and_unknown(root):
    coco, skips = class_folders_to_coco(
        str(root), classes=['zebra', 'giraffe'], unlabeled='ignore')
    assert [c['name'] for c in coco['categories']] == ['zebra', 'giraffe']
    assert skips.items['class folders not kept'] == [f'{root}/lion']
    images = by_file(coco)
    # zebra comes first now: the shared copy is named after zebra/a.jpg
    assert sorted(images) == [
        'giraffe/a.jpg', 'zebra/a.jpg', 'zebra/sub/b.png'
    ]
    assert all(i['unlabeled'] == 'ignore' for i in coco['images'])
    coco, skips = class_folders_to_coco(str(root), classes=['giraffe'])
    assert sorted(by_file(coco)) == ['giraffe/a.jpg', 'giraffe/c.jpg']
    assert sorted(skips.items['class folders not kept']) == [
        f'{root}/lion', f'{root}/zebra'
    ]
    with pytest.raises(
            ValueError,
            match=r"unknown class name 'zebras': no "
            r"folder 'zebras' in .*tagged \(close: zebra\)"):
        class_folders_to_coco(str(root), classes=['zebras'])
    with pytest.raises(FileNotFoundError, match='class-folder root not found'):
        class_folders_to_coco(str(root / 'nothing'))


def test_unreadable_image(root):
    (root / 'zebra' / 'broken.jpg').write_bytes(b'not a jpeg')
    with pytest.raises(
            ValueError, match=r'zebra/broken\.jpg: not a '
            'readable image'):
        class_folders_to_coco(str(root))
    coco, skips = class_folders_to_coco(str(root), skip_unreadable=True)
    assert skips.items['unreadable images'] == [f'{root}/zebra/broken.jpg']
    assert len(coco['images']) == 3


def test_data_root_prefix(root):
    coco, _ = class_folders_to_coco(str(root), data_root=str(root.parent))
    assert sorted(by_file(coco)) == [
        'tagged/giraffe/a.jpg', 'tagged/giraffe/c.jpg',
        'tagged/zebra/sub/b.png'
    ]
    with pytest.raises(ValueError, match='not inside the data root'):
        class_folders_to_coco(str(root), data_root=str(root / 'zebra'))


def test_cli(root, tmp_path, capsys):
    out = tmp_path / 'ann' / 'tags.json'
    load_cli('class_folders_to_coco').main(
        [str(root), '--out',
         str(out), '--classes', 'giraffe', 'zebra'])
    coco = json.loads(out.read_text())
    assert len(coco['images']) == 3
    text = capsys.readouterr().out
    assert "3 images, 2 classes, unlabeled='negative'" in text
    rows = {
        line.split()[0]: line.split()[1:]
        for line in text.splitlines()
        if line.split() and line.split()[0] in ('giraffe', 'zebra')
    }
    # giraffe: 2 images present, 1 absent (implied); zebra: 2 and 1
    assert rows == {'giraffe': ['2', '1'], 'zebra': ['2', '1']}
    assert 'identical copies merged into one image: 1' in text
    assert 'non-image files: 1' in text


def test_same_proposal_key_noted(tmp_path):
    root = tmp_path / 'tagged'
    write_image(root / 'zebra' / 'q' / 'x.jpg', (8, 8), seed=1)
    write_image(root / 'giraffe' / 'q' / 'x.jpg', (8, 8), seed=2)
    coco, skips = class_folders_to_coco(str(root))
    assert sorted(by_file(coco)) == ['giraffe/q/x.jpg', 'zebra/q/x.jpg']
    assert list(skips.items.values()) == [['giraffe/q/x.jpg / zebra/q/x.jpg']]


def test_linked_folder_loop_walked_once(root):
    os.symlink('..', root / 'zebra' / 'sub' / 'up')  # zebra/sub/up -> zebra
    coco, _ = class_folders_to_coco(str(root), classes=['zebra'])
    assert sorted(by_file(coco)) == ['zebra/a.jpg', 'zebra/sub/b.png']
