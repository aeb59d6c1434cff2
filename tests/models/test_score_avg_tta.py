"""Multi-scale + flip testing by score averaging (ScoreAveragingTTAModel)."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT
from mmdet.registry import DATASETS, MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_flip
from mmengine.config import Config, ConfigDict
from mmengine.dataset import Compose, pseudo_collate
from mmengine.fileio import load
from mmengine.structures import InstanceData
from torch import nn

from mmdet_csod.models.test_time_augs import ScoreAveragingTTAModel
from mmdet_csod.structures import nms_instances

CONFIG = 'configs/wsod/oicr_small-vgg_synthetic.py'
NUM_CLASSES = 10


def _config():
    return Config.fromfile(osp.join(REPO_ROOT, CONFIG))


def _tta_dataset(root, cfg=None):
    cfg = cfg or _config()
    ds = cfg.test_dataloader.dataset.copy()
    ds.data_root = root
    ds.pipeline = cfg.tta_pipeline
    return DATASETS.build(ds)


def _original_proposals(dataset, idx):
    """The image's proposals as stored, before any resize or flip."""
    info = dataset.get_data_info(idx)
    props = info['proposals']
    props = props['bboxes'] if isinstance(props, dict) else props
    return torch.as_tensor(props, dtype=torch.float32).reshape(-1, 4)


def _view(item, v):
    return dict(inputs=item['inputs'][v], data_samples=item['data_samples'][v])


@pytest.fixture(scope='module')
def setup(synthetic_root):
    cfg = _config()
    dataset = _tta_dataset(synthetic_root, cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    # larger head weights than the init: scores that differ between views
    for layer in model.roi_head.bbox_head.modules():
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=0.05)
    model.eval()
    tta = MODELS.build(dict(cfg.tta_model, module=model))
    return cfg, dataset, model, tta


@pytest.fixture(scope='module')
def tta_run(setup):
    """test_step on image 0, with the averaged pre-NMS result captured."""
    _, dataset, model, tta = setup
    item = dataset[0]
    averaged = []
    average_views = tta.average_views

    def spy(samples):
        averaged.append(average_views(samples))
        return averaged[-1]

    tta.average_views = spy
    try:
        out = tta.test_step(pseudo_collate([item]))
    finally:
        del tta.average_views
    return item, out, averaged


def test_config_views_are_every_scale_with_and_without_flip(setup):
    cfg, dataset, _, _ = setup
    item = dataset[0]
    views = [s.metainfo for s in item['data_samples']]
    assert len(views) == 2 * len(cfg.tta_scales) == 8
    assert sum(bool(m['flip']) for m in views) == len(cfg.tta_scales)
    assert {m['flip_direction'] for m in views if m['flip']} == {'horizontal'}
    short_sides = sorted({min(m['img_shape']) for m in views})
    assert short_sides == sorted(s[1] for s in cfg.tta_scales)
    # ground truth in original image coordinates, unflipped, in every view
    gts = [s.gt_instances.bboxes.tensor for s in item['data_samples']]
    for gt in gts[1:]:
        assert torch.equal(gt, gts[0])
    h, w = views[0]['ori_shape']
    assert (gts[0][:, 2] <= w).all() and (gts[0][:, 3] <= h).all()


def test_unflipped_views_give_back_the_original_proposals(setup):
    """(a) Boxes of every view, un-scaled and un-flipped, are the stored
    proposals, so merging boxes over flipped scales is correct."""
    _, dataset, _, _ = setup
    item = dataset[0]
    original = _original_proposals(dataset, 0)
    num = len(original)
    samples = []
    for sample in item['data_samples']:
        sample = sample.clone()
        meta = sample.metainfo
        boxes = sample.proposals.bboxes
        assert len(boxes) == num
        sx, sy = meta['scale_factor']
        rescaled = boxes / boxes.new_tensor([sx, sy, sx, sy])
        if meta['flip']:
            # still mirrored before the un-flip
            assert not torch.allclose(rescaled, original, atol=1e-2)
        sample.pred_instances = InstanceData(
            bboxes=rescaled, scores=torch.rand(num, NUM_CLASSES))
        merged = ScoreAveragingTTAModel.average_views([sample])
        torch.testing.assert_close(
            merged.bboxes, original, atol=1e-3, rtol=1e-5)
        samples.append(sample)
    merged = ScoreAveragingTTAModel.average_views(samples)
    torch.testing.assert_close(merged.bboxes, original, atol=1e-3, rtol=1e-5)


def test_per_class_boxes_are_unflipped_group_by_group():
    boxes = torch.tensor([[10., 20., 30., 60.], [0., 0., 100., 50.]])
    per_class = torch.cat([boxes, boxes + 1., boxes + 2.], dim=1)  # C = 3
    flipped = bbox_flip(per_class, (80, 100), 'horizontal')
    samples = []
    for flip, b in ((False, per_class), (True, flipped)):
        s = DetDataSample(
            metainfo=dict(
                ori_shape=(80, 100),
                flip=flip,
                flip_direction='horizontal' if flip else None))
        s.pred_instances = InstanceData(bboxes=b, scores=torch.rand(2, 3))
        samples.append(s)
    merged = ScoreAveragingTTAModel.average_views(samples)
    torch.testing.assert_close(merged.bboxes, per_class)
    mean = sum(s.pred_instances.scores for s in samples) / 2
    torch.testing.assert_close(merged.scores, mean)
    dets = nms_instances(
        merged,
        ConfigDict(
            score_thr=0.,
            nms=dict(type='nms', iou_threshold=0.3),
            max_per_img=10))
    for box, label in zip(dets.bboxes, dets.labels):
        assert box.tolist() in per_class[:, 4 * label:4 * label + 4].tolist()


def test_scores_are_the_mean_of_the_views(setup, tta_run):
    """(b) The averaged scores are the mean of the views' proposal scores,
    each computed on its own; the output is their per-class NMS."""
    cfg, _, model, _ = setup
    item, out, averaged = tta_run
    per_view = []
    with torch.no_grad():
        for v in range(len(item['inputs'])):
            data = model.data_preprocessor(
                pseudo_collate([_view(item, v)]), False)
            raw = model.predict_proposal_scores(
                data['inputs'], data['data_samples'], rescale=True)
            per_view.append(raw[0].scores)
    assert not torch.allclose(per_view[0], per_view[-1])  # views do differ
    expected = torch.stack(per_view).mean(0)
    assert len(averaged) == 1
    assert averaged[0].scores.shape == (len(expected), NUM_CLASSES)
    torch.testing.assert_close(averaged[0].scores, expected)

    dets = nms_instances(averaged[0], ConfigDict(cfg.tta_model.tta_cfg))
    pred = out[0].pred_instances
    torch.testing.assert_close(pred.scores, dets.scores)
    torch.testing.assert_close(pred.bboxes, dets.bboxes)
    assert torch.equal(pred.labels, dets.labels)


def test_output_detections_are_valid(setup, tta_run):
    """(c) Labels in range, boxes inside the original image."""
    cfg, dataset, _, _ = setup
    item, out, _ = tta_run
    assert len(out) == 1 and isinstance(out[0], DetDataSample)
    sample = out[0]
    assert not sample.metainfo['flip']
    assert sample.img_id == dataset.get_data_info(0)['img_id']
    pred = sample.pred_instances
    num = len(pred)
    assert 0 < num <= cfg.tta_model.tta_cfg.max_per_img
    assert pred.bboxes.shape == (num, 4) and pred.scores.shape == (num, )
    assert ((pred.labels >= 0) & (pred.labels < NUM_CLASSES)).all()
    assert (pred.scores >= cfg.tta_model.tta_cfg.score_thr).all()
    h, w = sample.metainfo['ori_shape']
    eps = 1e-3
    assert (pred.bboxes[:, :2] >= -eps).all()
    assert (pred.bboxes[:, 2] <= w + eps).all()
    assert (pred.bboxes[:, 3] <= h + eps).all()
    assert (pred.bboxes[:, 2:] >= pred.bboxes[:, :2]).all()
    # the detections are merged proposals: each is one of the originals
    original = _original_proposals(dataset, 0)
    dist = (pred.bboxes[:, None] - original[None]).abs().amax(-1)
    assert (dist.min(dim=1).values < 1e-3).all()


def test_views_with_different_proposals_raise(setup):
    """(d) A view with fewer proposals than the others is refused."""
    _, dataset, _, tta = setup
    item = dataset[0]
    two = dict(
        inputs=item['inputs'][:2],
        data_samples=[s.clone() for s in item['data_samples'][:2]])
    last = two['data_samples'][1]
    last.proposals = last.proposals[:-5]
    with pytest.raises(ValueError, match='different proposals'):
        tta.test_step(pseudo_collate([two]))


def test_module_without_proposal_scores_is_refused():

    class PlainDetector(nn.Module):

        def test_step(self, data):
            return data

    with pytest.raises(TypeError, match='PlainDetector'):
        ScoreAveragingTTAModel(module=PlainDetector())


def test_tta_cfg_defaults_to_the_detector_test_cfg(setup):
    _, _, model, _ = setup
    tta = ScoreAveragingTTAModel(module=model)
    assert tta.tta_cfg == model.test_cfg.rcnn
    with pytest.raises(KeyError, match='max_per_img'):
        ScoreAveragingTTAModel(module=model, tta_cfg=dict(score_thr=0.))


def test_wsod_dataset_configs_have_the_wsod_scales():
    for name in ('voc07_csod', 'coco_csod'):
        cfg = Config.fromfile(
            osp.join(REPO_ROOT, f'configs/_base_/datasets/{name}.py'))
        assert cfg.tta_model.type == 'ScoreAveragingTTAModel'
        aug = cfg.tta_pipeline[-1]
        assert aug.type == 'TestTimeAug'
        resizes, flips = aug.transforms[:2]
        scales = [r.transforms[0].scale for r in resizes]
        assert scales == [(2000, s) for s in (480, 576, 688, 864, 1200)]
        assert [f.transforms[0].prob for f in flips] == [1., 0.]
        meta_keys = aug.transforms[-1][0].meta_keys
        assert {'flip', 'flip_direction'} <= set(meta_keys)
        built = Compose(cfg.tta_pipeline).transforms[-1]
        assert len(built.subroutines) == 10


def test_tools_test_with_tta(setup, tta_run, synthetic_root, tmp_path):
    """tools/test.py --tta on a checkpoint of the random model: metrics, and
    the same detections as in-process."""
    _, _, model, _ = setup
    _, out, _ = tta_run
    ckpt = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    metrics, preds = str(tmp_path / 'metrics.json'), str(tmp_path / 'p.pkl')
    proc = subprocess.run([
        sys.executable, 'tools/test.py', CONFIG, ckpt, '--tta', '--work-dir',
        str(tmp_path), '--metrics-out', metrics, '--out', preds,
        '--cfg-options', f'test_dataloader.dataset.data_root={synthetic_root}',
        'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False',
        'test_dataloader.dataset.indices=1'
    ],
                          cwd=REPO_ROOT,
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = load(metrics)
    for key in ('mAP', 'base_mAP', 'novel_mAP'):
        assert 0.0 <= result[f'pascal_voc/{key}'] <= 1.0
    dumped = load(preds)
    assert len(dumped) == 1
    pred = dumped[0]['pred_instances']
    expected = out[0].pred_instances
    torch.testing.assert_close(pred['scores'], expected.scores)
    torch.testing.assert_close(pred['bboxes'], expected.bboxes)
    assert torch.equal(pred['labels'], expected.labels)
