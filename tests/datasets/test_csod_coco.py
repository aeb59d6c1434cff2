"""CSODCocoDataset: the load-time split, image labels, proposals, bad input."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from conftest import BASE, CLASSES, NOVEL


def _fill(tc):
    # img 1: base + novel; img 2: novel only; img 3: base (one difficult)
    # and a difficult novel box; img 4: no annotation at all.
    tc.add_image('a.jpg', [('cat', [2, 3, 20, 10]),
                           ('horse', [30, 5, 40, 40])])
    tc.add_image('b.jpg', [('person', [1, 1, 10, 30])])
    tc.add_image('c.jpg', [('dog', [5, 5, 20, 20]),
                           ('dog', [40, 5, 10, 10], dict(iscrowd=1)),
                           ('person', [0, 0, 10, 10], dict(iscrowd=1))])
    tc.add_image('d.jpg', [])
    return tc.write()


def _labels(ds, idx):
    return [
        CLASSES[i]
        for i in np.flatnonzero(ds.get_data_info(idx)['image_labels'])
    ]


def _by_name(ds):
    return {
        osp.basename(ds.get_data_info(i)['img_path']): ds.get_data_info(i)
        for i in range(len(ds))
    }


def test_metainfo_split(tiny_coco):
    ds = _fill(tiny_coco).dataset()
    assert ds.metainfo['classes'] == CLASSES
    assert ds.metainfo['base_classes'] == BASE
    assert ds.metainfo['novel_classes'] == NOVEL
    assert ds.base_labels == [0, 1] and ds.novel_labels == [2, 3]


def test_metainfo_novel_only_given_infers_base(tiny_coco):
    ds = _fill(tiny_coco).dataset(
        metainfo=dict(classes=CLASSES, novel_classes=('person', )))
    assert ds.metainfo['base_classes'] == ('cat', 'dog', 'horse')


@pytest.mark.parametrize('meta,match', [
    (dict(classes=CLASSES, base_classes=('cat', 'zebra')), 'zebra'),
    (dict(
        classes=CLASSES,
        base_classes=('cat', 'dog'),
        novel_classes=('dog', 'horse', 'person')), 'both base and novel'),
    (dict(classes=CLASSES, base_classes=('cat', ),
          novel_classes=('horse', )), 'neither'),
])
def test_metainfo_errors(tiny_coco, meta, match):
    with pytest.raises(ValueError, match=match):
        _fill(tiny_coco).dataset(metainfo=meta)


@pytest.mark.parametrize('tags', [False, True])
def test_cross_training_set_has_no_novel_box(tiny_coco, tags):
    _fill(tiny_coco)
    if tags:  # the same images also tagged (ids 12 horse, 13 person)
        tiny_coco.images[0].update(image_labels=[12, 13],
                                   negative_labels=[11])
        tiny_coco.images[1].update(image_labels=[13], unlabeled='ignore')
        tiny_coco.images[2].update(image_labels=[13])
        tiny_coco.images[3].update(image_labels=[12])  # d: tags only
        tiny_coco.write()
    ds = tiny_coco.dataset(unlabeled='ignore' if tags else 'negative')
    infos = _by_name(ds)
    if tags:
        assert set(infos) == {'a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'}
        assert infos['d.jpg']['image_labels'].tolist() == [0, 0, 1, 0]
        assert infos['c.jpg']['image_labels'].tolist() == [0, 1, 0, 1]
    else:
        # the image without annotations is skipped, counted
        assert set(infos) == {'a.jpg', 'b.jpg', 'c.jpg'}
        assert ds.load_report['skipped_images']['no annotation'] == 1
    for info in infos.values():
        for inst in info['instances']:
            assert CLASSES[inst['bbox_label']] in BASE
    # no trace of a novel box anywhere in the data info
    for info in infos.values():
        assert set(info) == {
            'img_path', 'img_id', 'seg_map_path', 'height', 'width',
            'instances', 'image_labels', 'proposals', 'sample_idx'
        } | ({'image_label_weights'} if tags else set())
    # nor in a packed sample's gt_instances or ignored_instances
    ds = tiny_coco.dataset(
        unlabeled='ignore' if tags else 'negative',
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadProposals', num_max_proposals=None),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackCSODInputs', require_proposals=True)
        ])
    novel = [CLASSES.index(c) for c in NOVEL]
    for i in range(len(ds)):
        sample = ds[i]['data_samples']
        for field in ('gt_instances', 'ignored_instances'):
            labels = sample.get(field).labels.tolist()
            assert not set(labels) & set(novel), (field, labels)
    assert [i['bbox'] for i in infos['a.jpg']['instances']] == [[2, 3, 22, 13]]
    assert infos['b.jpg']['instances'] == []  # kept for its image label
    # base difficult box stays as an ignored instance, novel one is gone
    c = infos['c.jpg']['instances']
    assert [(i['bbox_label'], i['ignore_flag']) for i in c] == [(1, 0), (1, 1)]


def test_image_labels_multi_hot_over_all_classes(tiny_coco):
    ds = _fill(tiny_coco).dataset()
    infos = _by_name(ds)
    a = infos['a.jpg']['image_labels']
    assert a.dtype == np.float32 and a.shape == (len(CLASSES), )
    assert a.tolist() == [1, 0, 1, 0]
    assert infos['b.jpg']['image_labels'].tolist() == [0, 0, 0, 1]
    # ignored (difficult) objects do not make a class present by default
    assert infos['c.jpg']['image_labels'].tolist() == [0, 1, 0, 0]
    ds2 = tiny_coco.dataset(image_labels_from_ignored=True)
    assert _by_name(ds2)['c.jpg']['image_labels'].tolist() == [0, 1, 0, 1]


def test_weak_and_full_modes(tiny_coco):
    _fill(tiny_coco)
    weak = tiny_coco.dataset(supervision='weak')
    assert all(not weak.get_data_info(i)['instances']
               for i in range(len(weak)))
    assert _by_name(weak)['a.jpg']['image_labels'].tolist() == [1, 0, 1, 0]
    full = _by_name(tiny_coco.dataset(supervision='full'))
    assert sorted(i['bbox_label']
                  for i in full['a.jpg']['instances']) == [0, 2]
    with pytest.raises(ValueError, match='supervision'):
        tiny_coco.dataset(supervision='semi')


def test_test_mode_keeps_every_box_and_image(tiny_coco):
    ds = _fill(tiny_coco).dataset(test_mode=True)
    infos = _by_name(ds)
    assert set(infos) == {'a.jpg', 'b.jpg', 'c.jpg', 'd.jpg'}
    assert sorted(i['bbox_label']
                  for i in infos['a.jpg']['instances']) == [0, 2]
    assert [i['bbox_label'] for i in infos['b.jpg']['instances']] == [3]


def test_labels_follow_metainfo_order_not_json_order(tiny_coco):
    tiny_coco.categories = tiny_coco.categories[::-1]
    ds = _fill(tiny_coco).dataset(supervision='full')
    a = _by_name(ds)['a.jpg']
    assert sorted(CLASSES[i['bbox_label']]
                  for i in a['instances']) == ['cat', 'horse']
    assert a['image_labels'].tolist() == [1, 0, 1, 0]


def test_degenerate_annotation_boxes_are_counted(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10]),
                                  ('cat', [2, 3, 0.5, 10]),
                                  ('dog', [500, 500, 10, 10])])
    ds = tiny_coco.write().dataset(supervision='full')
    assert len(ds.get_data_info(0)['instances']) == 1
    skips = ds.load_report['skipped_annotations']
    assert skips['degenerate box (w or h < 1)'] == 1
    assert skips['box outside its image'] == 1


def test_proposals_cleaned_and_truncated(tiny_coco):
    props = np.array([[0, 0, 10, 10], [np.nan, 0, 5, 5], [3, 3, 3, 9],
                      [1, 1, 200, 200], [2, 2, 8, 8], [4, 4, 9, 9]],
                     np.float32)
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])], proposals=props)
    ds = tiny_coco.write().dataset(num_max_proposals=3)
    p = ds.get_data_info(0)['proposals']
    # nan and zero-width boxes dropped, the big one clipped, then first 3
    np.testing.assert_array_equal(
        p['bboxes'], [[0, 0, 10, 10], [1, 1, 80, 60], [2, 2, 8, 8]])
    assert p['scores'].shape == (3, )
    stats = ds.load_report['proposals']
    assert (stats.non_finite, stats.degenerate, stats.truncated) == (1, 1, 1)


def test_missing_proposal_entry_names_the_image(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    tiny_coco.add_image('b.jpg', [('cat', [2, 3, 20, 10])])
    del tiny_coco.proposals['imgs/b.jpg']
    with pytest.raises(KeyError, match=r'b\.jpg'):
        tiny_coco.write().dataset()


def test_proposals_of_another_image_set(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    tiny_coco.proposals = {'other/x.jpg': (np.zeros((1, 4)), None)}
    with pytest.raises(KeyError, match='another image set'):
        tiny_coco.write().dataset()


def test_image_without_usable_proposal_is_skipped_in_training(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    tiny_coco.add_image(
        'b.jpg', [('cat', [2, 3, 20, 10])], proposals=np.array([[5, 5, 5, 5]]))
    ds = tiny_coco.write().dataset()
    assert len(ds) == 1
    assert ds.load_report['skipped_images']['no usable proposal'] == 1
    assert len(tiny_coco.dataset(test_mode=True)) == 2


def test_missing_image_file(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    tiny_coco.add_image('gone.jpg', [('cat', [2, 3, 20, 10])], write=False)
    with pytest.raises(FileNotFoundError, match='gone.jpg'):
        tiny_coco.write().dataset()


def test_corrupt_json(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    tiny_coco.write()
    with open(osp.join(tiny_coco.root, 'ann.json'), 'w') as f:
        f.write('{"images": [')
    with pytest.raises(ValueError, match=r'ann\.json: not valid JSON'):
        tiny_coco.dataset()


def test_unknown_category_id(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10]), (99, [1, 1, 5, 5])])
    with pytest.raises(ValueError, match=r"a\.jpg.*unknown category id 99"):
        tiny_coco.write().dataset()


def test_config_class_missing_from_json(tiny_coco):
    tiny_coco.categories = tiny_coco.categories[:3]
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    with pytest.raises(ValueError, match='person'):
        tiny_coco.write().dataset()


def test_missing_field(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    tiny_coco.write()
    path = osp.join(tiny_coco.root, 'ann.json')
    with open(path) as f:
        data = json.load(f)
    del data['images'][0]['height']
    with open(path, 'w') as f:
        json.dump(data, f)
    with pytest.raises(ValueError, match="'height'"):
        tiny_coco.dataset()


def test_missing_annotation_file(tiny_coco, tmp_path):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    tiny_coco.write()
    os.remove(osp.join(tiny_coco.root, 'ann.json'))
    with pytest.raises(FileNotFoundError, match='ann.json'):
        tiny_coco.dataset()
