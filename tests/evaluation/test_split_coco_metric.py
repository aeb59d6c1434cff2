"""SplitCocoMetric: COCO AP over base and novel categories."""
import json

import pytest
import torch
from conftest import BASE, CLASSES, NOVEL
from mmdet.registry import METRICS

# two images; gt: img 1 cat [10,10,40,40] and horse [50,10,90,60];
# img 2 dog [5,5,35,45] and person [40,40,70,90]
GT = {
    1: [('cat', [10, 10, 30, 30]), ('horse', [50, 10, 40, 50])],
    2: [('dog', [5, 5, 30, 40]), ('person', [40, 40, 30, 50])],
}


def _write_gt(path):
    cats = [dict(id=i + 1, name=c) for i, c in enumerate(CLASSES)]
    images = [dict(id=i, file_name=f'{i}.jpg', height=100, width=100)
              for i in GT]
    anns = []
    for img_id, objs in GT.items():
        for name, (x, y, w, h) in objs:
            anns.append(dict(id=len(anns) + 1, image_id=img_id,
                             category_id=CLASSES.index(name) + 1,
                             bbox=[x, y, w, h], area=w * h, iscrowd=0))
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=cats), f)


def test_base_perfect_novel_missed(tmp_path):
    ann = str(tmp_path / 'gt.json')
    _write_gt(ann)
    metric = METRICS.build(dict(type='SplitCocoMetric', ann_file=ann))
    metric.dataset_meta = dict(classes=CLASSES, base_classes=BASE,
                               novel_classes=NOVEL)
    samples = []
    for img_id, objs in GT.items():
        boxes, labels = [], []
        for name, (x, y, w, h) in objs:
            if name in BASE:  # exact base boxes
                boxes.append([x, y, x + w, y + h])
            else:  # novel boxes far off their object
                boxes.append([0, 90, 8, 99])
            labels.append(CLASSES.index(name))
        samples.append(dict(
            img_id=img_id, ori_shape=(100, 100),
            pred_instances=dict(bboxes=torch.tensor(boxes, dtype=torch.float),
                                scores=torch.ones(len(boxes)),
                                labels=torch.tensor(labels))))
    metric.process({}, samples)
    res = metric.evaluate(size=2)
    assert res['coco/bbox_base_mAP'] == pytest.approx(1.0)
    assert res['coco/bbox_base_mAP_50'] == pytest.approx(1.0)
    assert res['coco/bbox_novel_mAP'] == pytest.approx(0.0)
    assert res['coco/bbox_mAP'] == pytest.approx(0.5)
