"""tools/test.py on images without ground truth (predictions, no NaN
metric), --no-eval, and the metrics' own no-ground-truth answer."""
import json
import logging
import os.path as osp
import pickle
import re
import subprocess
import sys

import numpy as np
import torch
from conftest import REPO_ROOT, loader_options
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import DefaultScope
from mmengine.runner import save_checkpoint

from mmdet_csod.evaluation import SplitCocoMetric, SplitVOCMetric

CONFIG = 'configs/csod/drn_tiny_synthetic.py'
CLASSES = ('cat', 'dog', 'horse')
META = dict(
    classes=CLASSES, base_classes=CLASSES[:2], novel_classes=CLASSES[2:])


def _checkpoint(tmp_path):
    cfg = Config.fromfile(osp.join(REPO_ROOT, CONFIG))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
    path = str(tmp_path / 'drn.pth')
    save_checkpoint(
        dict(
            meta=dict(
                dataset_meta=dict(cfg.train_dataloader.dataset.metainfo)),
            state_dict=model.state_dict()), path)
    return path


def _test_tool(root, ckpt, *args):
    proc = subprocess.run([
        sys.executable, 'tools/test.py', CONFIG, ckpt, *args, '--cfg-options',
        *loader_options(root)
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    return proc.returncode, proc.stdout + proc.stderr


def test_images_without_ground_truth_give_predictions_and_no_nan(
        synthetic_root, tmp_path):
    """New images listed in a COCO json without annotations, no proposal
    file: proposals computed on the fly, predictions dumped, no metric."""
    with open(osp.join(synthetic_root, 'annotations', 'val.json')) as f:
        val = json.load(f)
    ann = tmp_path / 'new_images.json'
    ann.write_text(
        json.dumps(
            dict(
                images=val['images'][:3],
                annotations=[],
                categories=val['categories'])))
    out = str(tmp_path / 'preds.pkl')
    rc, log = _test_tool(synthetic_root, _checkpoint(tmp_path), '--work-dir',
                         str(tmp_path / 'work'), '--out', out, '--metrics-out',
                         str(tmp_path / 'metrics.json'), '--cfg-options',
                         f'test_dataloader.dataset.ann_file={ann}',
                         'test_dataloader.dataset.proposal_file=None')
    assert rc == 0, log[-3000:]
    assert 'no ground truth in the test set: not evaluated' in log
    assert not re.search(r'\bnan\b', log, re.IGNORECASE), log[-3000:]
    with open(out, 'rb') as f:
        preds = pickle.load(f)
    assert [osp.basename(p['img_path'])
            for p in preds] == [i['file_name'] for i in val['images'][:3]]
    for p in preds:
        n = len(p['pred_instances']['scores'])
        assert n > 0 and p['pred_instances']['bboxes'].shape == (n, 4)
    with open(tmp_path / 'metrics.json') as f:
        assert json.load(f) == {}


def test_no_eval_skips_metrics_of_a_set_with_ground_truth(
        synthetic_root, tmp_path):
    ckpt = _checkpoint(tmp_path)
    out = str(tmp_path / 'preds.pkl')
    rc, log = _test_tool(synthetic_root, ckpt, '--no-eval', '--out', out,
                         '--work-dir', str(tmp_path / 'work'), '--cfg-options',
                         'test_dataloader.dataset.indices=2')
    assert rc == 0, log[-3000:]
    final = [line for line in log.splitlines() if 'Epoch(test) [2/2]' in line]
    assert len(final) == 1, log[-3000:]
    assert 'data_time' in final[0]  # the metrics would follow here
    assert 'pascal_voc' not in final[0] and 'corloc' not in final[0]
    with open(out, 'rb') as f:
        assert len(pickle.load(f)) == 2
    rc, log = _test_tool(synthetic_root, ckpt, '--no-eval', '--work-dir',
                         str(tmp_path / 'work'))
    assert rc == 1
    assert 'error: nothing to do without evaluation: give --out' in log


def _voc_results(with_gt):
    ann = dict(
        bboxes=np.array([[10, 10, 50, 50]], np.float32)
        if with_gt else np.zeros((0, 4), np.float32),
        labels=np.array([0] if with_gt else [], np.int64),
        bboxes_ignore=np.zeros((0, 4), np.float32),
        labels_ignore=np.zeros(0, np.int64))
    dets = [np.array([[10, 10, 50, 50, 0.9]], np.float32)
            ] + [np.zeros((0, 5), np.float32) for _ in CLASSES[1:]]
    return [(ann, dets)] * 2


class _Logged:
    """The messages the current MMLogger logs inside the block."""

    def __enter__(self):
        self.messages = []
        self.handler = logging.Handler()
        self.handler.emit = lambda r: self.messages.append(r.getMessage())
        self.logger = MMLogger.get_current_instance()
        self.logger.addHandler(self.handler)
        return self.messages

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)


def test_voc_metric_without_ground_truth_is_not_evaluated():
    metric = SplitVOCMetric(metric='mAP', iou_thrs=[0.5])
    metric.dataset_meta = META
    with _Logged() as messages:
        assert metric.compute_metrics(_voc_results(False)) == {}
    assert any('no ground truth: not evaluated' in m for m in messages)
    res = metric.compute_metrics(_voc_results(True))
    assert res['mAP'] == 1.0 and res['base_mAP'] == 1.0


def test_coco_metric_without_ground_truth_is_not_evaluated():
    metric = SplitCocoMetric(metric='bbox')
    metric.dataset_meta = META
    gt = dict(width=60, height=60, img_id=1, anns=[])
    pred = dict(
        img_id=1,
        bboxes=np.array([[1, 1, 20, 20]], np.float32),
        scores=np.array([0.9], np.float32),
        labels=np.array([0]))
    with _Logged() as messages:
        assert metric.compute_metrics([(gt, pred)]) == {}
    assert any('no ground truth: not evaluated' in m for m in messages)
    # with an annotation the image is evaluated
    gt = dict(
        gt, anns=[dict(bbox_label=0, bbox=[1, 1, 20, 20], ignore_flag=0)])
    metric = SplitCocoMetric(metric='bbox')
    metric.dataset_meta = META
    res = metric.compute_metrics([(gt, pred)])
    assert res['bbox_mAP_50'] == 1.0 and 'bbox_base_mAP_50' in res
