"""Image-level labels in the training json: image_labels, negative_labels,
unlabeled='negative'|'ignore', packed image_label_weights, bad input."""
import os.path as osp

import numpy as np
import pytest
import torch
from conftest import CLASSES
from mmengine.dataset import ConcatDataset

CAT = {c: 10 + i for i, c in enumerate(CLASSES)}  # TinyCoco's category ids


def _tag(tiny, img_id, **fields):
    """Set json fields of image ``img_id``: class names -> category ids."""
    img = tiny.images[img_id - 1]
    for key, value in fields.items():
        img[key] = [CAT.get(v, v)
                    for v in value] if isinstance(value, list) else value


def _tagged(tiny):
    # a: boxes (cat, horse) + tag person; b: tags only (horse), dog absent;
    # c: boxes only (dog); d: nothing present, cat and person absent;
    # e: tags only (person), per image 'ignore'
    a = tiny.add_image('a.jpg', [('cat', [2, 3, 20, 10]),
                                 ('horse', [30, 5, 40, 40])])
    _tag(tiny, a, image_labels=['person'])
    b = tiny.add_image('b.jpg', [])
    _tag(tiny, b, image_labels=['horse'], negative_labels=['dog'])
    tiny.add_image('c.jpg', [('dog', [5, 5, 20, 20])])
    d = tiny.add_image('d.jpg', [])
    _tag(tiny, d, negative_labels=['cat', 'person'])
    e = tiny.add_image('e.jpg', [])
    _tag(tiny, e, image_labels=['person'], unlabeled='ignore')
    return tiny.write()


def _infos(ds):
    return {
        osp.basename(ds.get_data_info(i)['img_path']): ds.get_data_info(i)
        for i in range(len(ds))
    }


def test_tags_are_united_with_boxes_and_default_is_negative(tiny_coco):
    infos = _infos(_tagged(tiny_coco).dataset())
    labels = {k: v['image_labels'].tolist() for k, v in infos.items()}
    assert labels == {
        'a.jpg': [1, 0, 1, 1],  # boxes cat, horse + tag person
        'b.jpg': [0, 0, 1, 0],  # a tag-only image, kept
        'c.jpg': [0, 1, 0, 0],  # boxes only: as before
        'e.jpg': [0, 0, 0, 1],
    }
    # 'negative': nothing present in d (filtered as before), no weights
    # except where the image asks for 'ignore'
    assert 'd.jpg' not in infos
    assert [k for k in infos if 'image_label_weights' in infos[k]] == ['e.jpg']
    assert infos['e.jpg']['image_label_weights'].tolist() == [0, 0, 0, 1]
    # novel boxes still dropped, tags never make instances
    assert [i['bbox_label'] for i in infos['a.jpg']['instances']] == [0]
    assert infos['b.jpg']['instances'] == []


def test_unlabeled_ignore_weights(tiny_coco):
    _tagged(tiny_coco)
    _tag(tiny_coco, 3, unlabeled='negative')  # c.jpg: exhaustive boxes
    infos = _infos(tiny_coco.write().dataset(unlabeled='ignore'))
    w = {k: v.get('image_label_weights') for k, v in infos.items()}
    assert w['a.jpg'].dtype == np.float32 and w['a.jpg'].shape == (4, )
    assert w['a.jpg'].tolist() == [1, 0, 1, 1]  # dog unknown
    assert w['b.jpg'].tolist() == [0, 1, 1, 0]  # horse present, dog absent
    assert w['c.jpg'] is None  # the image's field overrides the source's
    # d: only verified absent classes: kept, there is something to learn
    assert w['d.jpg'].tolist() == [1, 0, 0, 1]
    assert infos['d.jpg']['image_labels'].tolist() == [0, 0, 0, 0]
    # present and unknown never overlap; present is always known
    for k, info in infos.items():
        if w[k] is not None:
            assert (w[k][info['image_labels'] > 0] == 1).all(), k


def test_ignore_only_for_unknown_classes_of_ignored_boxes(tiny_coco):
    """A class with only an ignored (crowd) box is not present (as before);
    under 'ignore' it is unknown, not absent."""
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10]),
                                  ('dog', [5, 5, 10, 10], dict(iscrowd=1))])
    info = tiny_coco.write().dataset(unlabeled='ignore').get_data_info(0)
    assert info['image_labels'].tolist() == [1, 0, 0, 0]
    assert info['image_label_weights'].tolist() == [1, 0, 0, 0]


def test_class_without_any_box_is_allowed(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    b = tiny_coco.add_image('b.jpg', [])
    _tag(tiny_coco, b, image_labels=['person'])
    ds = tiny_coco.write().dataset(supervision='full')
    assert not any(a['category_id'] == CAT['person']
                   for a in tiny_coco.annotations)
    assert _infos(ds)['b.jpg']['image_labels'].tolist() == [0, 0, 0, 1]
    assert ds.get_cat_ids(1) == [3]


def test_sources_of_a_concat_dataset_set_their_own_mode(tiny_coco, tmp_path):
    from conftest import TinyCoco
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    boxes = tiny_coco.write().dataset()
    tags = TinyCoco(tmp_path / 'tags')
    t = tags.add_image('t.jpg', [])
    _tag(tags, t, image_labels=['horse'])
    tagged = tags.write().dataset(unlabeled='ignore')
    both = ConcatDataset([boxes, tagged])
    assert 'image_label_weights' not in both.get_data_info(0)
    assert both.get_data_info(1)['image_label_weights'].tolist() == [
        0, 0, 1, 0
    ]


def test_packed_sample_carries_the_weights(tiny_coco):
    _tagged(tiny_coco)
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadProposals', num_max_proposals=None),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackCSODInputs', require_proposals=True)
    ]
    ds = tiny_coco.dataset(pipeline=pipeline, unlabeled='ignore')
    names = [
        osp.basename(ds.get_data_info(i)['img_path']) for i in range(len(ds))
    ]
    s = ds[names.index('b.jpg')]['data_samples']
    assert s.image_label_weights.dtype == torch.float32
    assert s.image_label_weights.tolist() == [0, 1, 1, 0]
    assert s.image_labels.tolist() == [0, 0, 1, 0]
    assert len(s.gt_instances) == 0
    plain = tiny_coco.dataset(pipeline=pipeline)
    assert 'image_label_weights' not in plain[0]['data_samples']


@pytest.mark.parametrize('fields,match', [
    (dict(image_labels=[99]),
     r"ann\.json: image 'a\.jpg' \(id 1\): field 'image_labels' has "
     r'unknown category id\(s\) \[99\]'),
    (dict(negative_labels=[10, 77]),
     r"a\.jpg.*field 'negative_labels' has unknown category id\(s\) \[77\]"),
    (dict(image_labels=['horse'], negative_labels=['horse']),
     r"a\.jpg.*\[12\] \(horse\) are both in field 'image_labels' and in "
     r"field 'negative_labels'"),
    (dict(negative_labels=['cat']),
     r"a\.jpg.*\[10\] \(cat\) are both boxed in the image and in field "
     r"'negative_labels'"),
    (dict(image_labels=12), r"a\.jpg.*'image_labels' must be a list"),
    (dict(unlabeled='maybe'), r"a\.jpg.*unlabeled must be one of"),
])
def test_bad_tags_name_file_image_and_field(tiny_coco, fields, match):
    a = tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    _tag(tiny_coco, a, **fields)
    with pytest.raises(ValueError, match=match):
        tiny_coco.write().dataset()


def test_bad_unlabeled_argument(tiny_coco):
    tiny_coco.add_image('a.jpg', [('cat', [2, 3, 20, 10])])
    with pytest.raises(ValueError, match='unlabeled must be one of'):
        tiny_coco.write().dataset(unlabeled='absent')
