"""Merge a box json with tag sources
(mmdet_csod/datasets/converters/merge.py + tools/dataset_converters/
merge_coco.py), and the three importers end to end."""
import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from tag_sources import (by_file, labels_by_name, load_cli,
                         write_class_descriptions, write_image, write_json,
                         write_oi_labels)

from mmdet_csod.datasets.converters.class_folders import class_folders_to_coco
from mmdet_csod.datasets.converters.merge import (Source, format_counts,
                                                  load_mapping, merge_sources,
                                                  save_counts)
from mmdet_csod.datasets.converters.openimages import openimages_to_coco

SIZES = {
    'img1': (40, 30),
    'img2': (50, 40),
    'img3': (20, 20),
    'img4': (24, 16)
}
# (annotation id, image id, category id, bbox, iscrowd)
BOXES = [(100, 10, 1, [1, 2, 10, 12], 0), (101, 10, 3, [5, 5, 20, 10], 0),
         (102, 20, 3, [0, 0, 30, 30], 0), (103, 30, 1, [2, 2, 8, 8], 0),
         (104, 30, 3, [10, 10, 5, 5], 1), (105, 40, 3, [3, 3, 9, 9], 0)]


def box_json(path, sizes=SIZES, boxes=BOXES, extra_images=()):
    """COCO json: person (id 1) and car (id 3) boxes on img1..img4."""
    images = [
        dict(
            id=10 * (k + 1),
            file_name=f'{name}.jpg',
            width=w,
            height=h,
            license=4,
            coco_url=f'http://example.org/{name}.jpg')
        for k, (name, (w, h)) in enumerate(sizes.items())
    ] + list(extra_images)
    anns = [
        dict(
            id=i,
            image_id=img,
            category_id=cat,
            bbox=bbox,
            area=bbox[2] * bbox[3],
            iscrowd=crowd,
            segmentation=[]) for i, img, cat, bbox, crowd in boxes
    ]
    return str(
        write_json(
            path,
            dict(
                images=images,
                annotations=anns,
                categories=[dict(id=1, name='person'),
                            dict(id=3, name='car')])))


@pytest.fixture
def world(tmp_path):
    """data/coco (boxes), data/tagged (folders: people, zebra; zebra/img2 a
    link to coco/img2, zebra/img1 another file than coco/img1), OpenImages
    labels on coco/img1 (Zebra absent) and coco/img3 (Zebra, Person)."""
    data = tmp_path / 'data'
    for k, (name, size) in enumerate(SIZES.items()):
        write_image(data / 'coco' / f'{name}.jpg', size, seed=k)
    write_image(data / 'tagged' / 'people' / 'p1.jpg', (16, 16), seed=10)
    write_image(data / 'tagged' / 'zebra' / 'img1.jpg', (30, 30), seed=11)
    os.symlink('../../coco/img2.jpg', data / 'tagged' / 'zebra' / 'img2.jpg')
    folders = data / 'annotations' / 'tags.json'
    class_folders_to_coco(str(data / 'tagged'), str(folders))
    labels = write_oi_labels(tmp_path / 'oi.csv', [('img1', '/m/0898b', '0'),
                                                   ('img3', '/m/0898b', '1'),
                                                   ('img3', '/m/01g317', '1')])
    classes = write_class_descriptions(tmp_path / 'classes.csv')
    oi = data / 'annotations' / 'oi.json'
    openimages_to_coco(
        str(labels),
        str(classes),
        str(data / 'coco'),
        str(oi),
        classes=['Zebra', 'Person'])
    mapping = write_json(tmp_path / 'synonyms.json', {
        'people': 'person',
        'Person': 'person',
        'Zebra': 'zebra'
    })
    return dict(
        data=data,
        boxes=box_json(data / 'annotations' / 'instances.json'),
        folders=str(folders),
        oi=str(oi),
        labels=labels,
        classes=classes,
        mapping=str(mapping),
        tmp=tmp_path)


def sources(w, boxes=None):
    d = w['data']
    return [
        Source(boxes or w['boxes'], str(d / 'coco'), 'instances'),
        Source(w['folders'], str(d / 'tagged'), 'tags'),
        Source(w['oi'], str(d / 'coco'), 'oi')
    ]


def test_merge_images_labels_and_boxes(world):
    out = world['tmp'] / 'merged.json'
    coco, report = merge_sources(
        sources(world), str(out), mapping=load_mapping(world['mapping']))
    assert json.loads(out.read_text()) == coco
    # box categories keep their ids, new names come next
    assert coco['categories'] == [
        dict(id=1, name='person', supercategory='none'),
        dict(id=3, name='car', supercategory='none'),
        dict(id=4, name='zebra', supercategory='none')
    ]
    assert report['data_root'] == str(world['data'])
    images = by_file(coco)
    assert list(images) == [
        'coco/img1.jpg', 'coco/img2.jpg', 'coco/img3.jpg', 'coco/img4.jpg',
        'tagged/people/p1.jpg', 'tagged/zebra/img1.jpg'
    ]
    assert [i['id'] for i in coco['images']] == [1, 2, 3, 4, 5, 6]
    assert report['shared_images'] == 3  # img1, img3 (same path), img2 (link)

    def labels(name):
        img = images[name]
        return (labels_by_name(coco, img, 'image_labels'),
                labels_by_name(coco, img,
                               'negative_labels'), img.get('unlabeled'))

    # boxes + OpenImages 'Zebra absent': everything known
    assert labels('coco/img1.jpg') == (['car', 'person'], ['zebra'], None)
    # boxes + the folder (through the link): person absent in both
    assert labels('coco/img2.jpg') == (['car', 'zebra'], ['person'], None)
    # a crowd car box: car neither present nor absent -> unknown
    assert labels('coco/img3.jpg') == (['person', 'zebra'], [], 'ignore')
    # boxes only: zebra unknown, car present, person absent
    assert labels('coco/img4.jpg') == (['car'], ['person'], 'ignore')
    assert labels('tagged/people/p1.jpg') == (['person'], ['zebra'], 'ignore')
    assert labels('tagged/zebra/img1.jpg') == (['zebra'], ['person'], 'ignore')
    first = images['coco/img1.jpg']
    assert (first['width'], first['height'], first['license'],
            first['coco_url']) == (40, 30, 4, 'http://example.org/img1.jpg')
    # every box as it was, ids renumbered, images and categories mapped
    anns = coco['annotations']
    assert [a['id'] for a in anns] == [1, 2, 3, 4, 5, 6]
    by_id = {i['id']: i['file_name'] for i in coco['images']}
    for ann, (_, img, cat, bbox, crowd) in zip(anns, BOXES):
        assert by_id[ann['image_id']] == f'coco/img{img // 10}.jpg'
        assert (ann['category_id'], ann['bbox'], ann['iscrowd'], ann['area'],
                ann['segmentation']) == (cat, bbox, crowd, bbox[2] * bbox[3],
                                         [])


def test_counts_table_saved(world):
    out = str(world['tmp'] / 'merged.json')
    _, report = merge_sources(
        sources(world), out, mapping=load_mapping(world['mapping']))
    c = report['counts']
    assert c['zebra']['tags'] == dict(present=2, absent=1, boxes=0)
    assert c['zebra']['oi'] == dict(present=1, absent=1, boxes=0)
    assert c['zebra']['instances'] == dict(present=0, absent=0, boxes=0)
    assert c['zebra']['merged'] == dict(
        present=3, absent=2, boxes=0, unknown=1)
    assert c['person']['instances'] == dict(present=2, absent=2, boxes=2)
    assert c['person']['merged'] == dict(
        present=3, absent=3, boxes=2, unknown=0)
    assert c['car']['instances'] == dict(present=3, absent=0, boxes=4)
    assert c['car']['merged'] == dict(present=3, absent=0, boxes=4, unknown=3)
    json_file, csv_file = save_counts(report, out)
    assert json_file.endswith('merged.counts.json')
    assert json.loads(Path(json_file).read_text())['counts'] == c
    with open(csv_file) as f:
        rows = list(csv.reader(f))
    assert rows[0] == [
        'class', 'instances:present', 'instances:absent', 'instances:boxes',
        'tags:present', 'tags:absent', 'oi:present', 'oi:absent',
        'merged:present', 'merged:absent', 'merged:boxes', 'merged:unknown'
    ]
    assert rows[3] == [
        'zebra', '0', '0', '0', '2', '1', '1', '1', '3', '2', '0', '1'
    ]
    assert format_counts(report).splitlines()[0].split() == rows[0]


def test_other_classes_negative(world):
    coco, report = merge_sources(
        sources(world),
        mapping=load_mapping(world['mapping']),
        other_classes='negative')
    # the boxes' closed world says 'no zebra' on img2 and img3, the folder
    # and OpenImages tag one; the folders' says 'no car' on img2, which has a
    # car box: the assumptions are dropped, and noted
    assert list(report['notes'].values()) == [[
        'coco/img2.jpg: zebra', 'coco/img2.jpg: car', 'coco/img3.jpg: zebra'
    ]]
    images = by_file(coco)
    # boxes only, zebra now absent: written as it was (labels from boxes)
    assert not any(k in images['coco/img4.jpg']
                   for k in ('image_labels', 'negative_labels', 'unlabeled'))
    p1 = images['tagged/people/p1.jpg']
    assert labels_by_name(coco, p1, 'negative_labels') == ['car', 'zebra']
    assert 'unlabeled' not in p1
    # an OpenImages image stays partial
    assert images['coco/img3.jpg']['unlabeled'] == 'ignore'
    img2 = images['coco/img2.jpg']
    assert labels_by_name(coco, img2, 'image_labels') == ['car', 'zebra']
    assert labels_by_name(coco, img2, 'negative_labels') == ['person']


def test_present_and_absent_in_two_sources(world):
    labels = write_oi_labels(world['tmp'] / 'bad.csv',
                             [('img1', '/m/01g317', '0')])
    bad = world['data'] / 'annotations' / 'oi_bad.json'
    openimages_to_coco(
        str(labels), str(world['classes']), str(world['data'] / 'coco'),
        str(bad))
    srcs = sources(world)[:2] + [
        Source(str(bad), str(world['data'] / 'coco'), 'oi_bad')
    ]
    with pytest.raises(ValueError) as err:
        merge_sources(srcs, mapping=load_mapping(world['mapping']))
    msg = str(err.value)
    assert msg.startswith(str(world['data'] / 'coco' / 'img1.jpg'))
    assert ("class 'person' is verified absent in oi_bad (" + str(bad) +
            '), which lists it in negative_labels, and present in instances '
            '(' + world['boxes'] + '), which has a box') in msg
    # the folder's implied absence against a crowd box of the box source
    boxes = BOXES + [(106, 20, 1, [0, 0, 4, 4], 1)]
    crowd = box_json(world['data'] / 'annotations' / 'crowd.json', boxes=boxes)
    with pytest.raises(
            ValueError,
            match=r"class 'person' is verified absent "
            r"in tags .*which does not tag it \(unlabeled="
            r"'negative'\), and present in instances .*crowd\.json"
            r'\), which has an iscrowd box'):
        merge_sources(
            sources(world, crowd), mapping=load_mapping(world['mapping']))


def test_size_mismatch_missing_file_and_bad_json(world):
    sizes = dict(SIZES, img2=(51, 40))
    wrong = box_json(world['data'] / 'annotations' / 'wrong.json', sizes)
    with pytest.raises(
            ValueError,
            match=r'img2\.jpg: tags .* gives the size '
            r'50x40, instances .*wrong\.json\) gives 51x40'):
        merge_sources(
            sources(world, wrong), mapping=load_mapping(world['mapping']))
    extra = [dict(id=99, file_name='img9.jpg', width=5, height=5)]
    gone = box_json(
        world['data'] / 'annotations' / 'gone.json', extra_images=extra)
    with pytest.raises(
            FileNotFoundError,
            match=r"1 images .*img9\.jpg'\]; "
            r'the first is listed by instances'):
        merge_sources(sources(world, gone))
    coco, _ = merge_sources(sources(world, gone), check_files=False)
    assert 'coco/img9.jpg' in by_file(coco)
    bad = write_json(
        world['tmp'] / 'bad.json',
        dict(
            images=[dict(id=1, file_name='a.jpg', negative_labels=[7])],
            categories=[dict(id=1, name='cat')]))
    with pytest.raises(
            ValueError,
            match=r'bad\.json: image a\.jpg: '
            '"negative_labels" must be a list of the json'):
        Source(str(bad), str(world['tmp']), 'bad')


def test_mapping_files(world, tmp_path):
    yml = tmp_path / 'syn.yaml'
    yml.write_text('people: person\nZebra: zebra\n')
    assert load_mapping(str(yml)) == {'people': 'person', 'Zebra': 'zebra'}
    chain = write_json(tmp_path / 'chain.json', {'a': 'b', 'b': 'c'})
    with pytest.raises(
            ValueError,
            match=r"chain\.json: entry 'a'.*map 'a' "
            'to the final name'):
        load_mapping(str(chain))
    with pytest.raises(ValueError, match='expected a mapping'):
        load_mapping(str(write_json(tmp_path / 'list.json', ['a'])))
    # without the synonyms, 'people' and 'Zebra' stay classes of their own
    coco, report = merge_sources(sources(world), mapping={'persons': 'person'})
    assert [c['name'] for c in coco['categories']
            ] == ['person', 'car', 'people', 'zebra', 'Zebra', 'Person']
    assert report['notes'] == {
        'mapping entries matching no category': ['persons']
    }


def test_same_proposal_key_noted(tmp_path):
    for part in ('a', 'b'):
        write_image(tmp_path / part / 'x' / '1.jpg', (8, 8), seed=ord(part))
        write_json(
            tmp_path / f'{part}.json',
            dict(
                images=[
                    dict(
                        id=1,
                        file_name='x/1.jpg',
                        width=8,
                        height=8,
                        image_labels=[1])
                ],
                categories=[dict(id=1, name='cat')]))
    coco, report = merge_sources([
        Source(str(tmp_path / f'{p}.json'), str(tmp_path / p), p)
        for p in ('a', 'b')
    ])
    assert list(by_file(coco)) == ['a/x/1.jpg', 'b/x/1.jpg']
    assert list(report['notes'].values()) == [['a/x/1.jpg / b/x/1.jpg']]


def test_end_to_end_cli(world, capsys):
    """The three CLIs on real-format files; the merged json loads in
    pycocotools and, once it reads the tag fields, in CSODCocoDataset."""
    d, tmp = world['data'], world['tmp']
    load_cli('class_folders_to_coco').main(
        [str(d / 'tagged'), '--out',
         str(tmp / 'folders.json')])
    load_cli('openimages_labels_to_coco').main([
        str(world['labels']),
        str(world['classes']), '--image-dir',
        str(d / 'coco'), '--out',
        str(tmp / 'oi.json'), '--classes', 'Zebra', 'Person'
    ])
    out = d / 'annotations' / 'merged.json'
    load_cli('merge_coco').main([
        '--boxes', world['boxes'],
        str(d / 'coco'), '--tags',
        str(tmp / 'folders.json'),
        str(d / 'tagged'), '--tags',
        str(tmp / 'oi.json'),
        str(d / 'coco'), '--mapping', world['mapping'], '--out',
        str(out)
    ])
    text = capsys.readouterr().out
    assert '6 images (3 from more than one source), 6 boxes, 3 classes' in text
    assert 'merged:unknown' in text and 'folders:present' in text
    assert (d / 'annotations' / 'merged.counts.csv').is_file()
    from pycocotools.coco import COCO
    api = COCO(str(out))
    assert sorted(api.getCatIds()) == [1, 3, 4]
    assert len(api.getImgIds()) == 6 and len(api.getAnnIds()) == 6
    assert api.loadImgs(3)[0]['file_name'] == 'coco/img3.jpg'
    assert len(api.getAnnIds(imgIds=[3])) == 2
    from mmdet_csod.datasets import CSODCocoDataset
    classes = ('person', 'car', 'zebra')
    ds = CSODCocoDataset(
        data_root=str(d),
        ann_file='annotations/merged.json',
        data_prefix=dict(img=''),
        metainfo=dict(
            classes=classes,
            base_classes=classes[:2],
            novel_classes=classes[2:]),
        pipeline=[])
    infos = {
        os.path.relpath(ds.get_data_info(i)['img_path'], str(d)):
        ds.get_data_info(i)
        for i in range(len(ds))
    }
    assert len(infos) == 6
    img3 = infos['coco/img3.jpg']
    np.testing.assert_array_equal(img3['image_labels'], [1, 0, 1])
    np.testing.assert_array_equal(img3['image_label_weights'], [1, 0, 1])
    p1 = infos['tagged/people/p1.jpg']
    np.testing.assert_array_equal(p1['image_labels'], [1, 0, 0])
    np.testing.assert_array_equal(p1['image_label_weights'], [1, 0, 1])
    img1 = infos['coco/img1.jpg']
    np.testing.assert_array_equal(img1['image_labels'], [1, 1, 0])
    assert 'image_label_weights' not in img1
    assert len(img1['instances']) == 2
