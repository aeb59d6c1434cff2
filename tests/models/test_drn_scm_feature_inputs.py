"""A DRN whose SCM also reads the image or the backbone's features (what it
passes them, in a real training step and in predict_stages), and the
pseudo boxes as seeds of the recognition head's refinement and kept off
boxed base objects."""
import os.path as osp

import pytest
import torch
from conftest import REPO_ROOT, record_calls, use_data_root
from mmdet.registry import DATASETS, MODELS
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.runner import set_random_seed
from mmengine.structures import InstanceData

PLUS = osp.join(REPO_ROOT, 'configs', 'csod', 'drn-plus_tiny_synthetic.py')

pytestmark = pytest.mark.usefixtures('one_thread')


def _model_and_batch(root, inputs, split='train_dataloader'):
    cfg = Config.fromfile(PLUS)
    use_data_root(cfg, root)
    cfg.model.scm.inputs = inputs
    # the novel classes' seeds only (the SCM's calls counted below)
    cfg.model.rec_scm_base_seeds = False
    ds = DATASETS.build(cfg[split].dataset)
    set_random_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return model, pseudo_collate([ds[i] for i in range(2)])


def _recording(model, monkeypatch):
    """Record the ``feats`` every call of the SCM's inputs part gets."""
    return record_calls(monkeypatch, type(model.scm.inputs), '__call__',
                        lambda args, kwargs, _: kwargs.get('feats'))


@pytest.mark.parametrize('inputs,channels', [
    (dict(type='HeatmapImageInputs'), 3),
    (dict(type='HeatmapFeatureInputs', feat_channels=128, feat_stride=8),
     128),
])
def test_training_step_gives_the_scm_its_feats(inputs, channels,
                                               synthetic_root, monkeypatch):
    model, batch = _model_and_batch(synthetic_root, inputs)
    assert model.scm.detector.extent_channels == channels
    seen = _recording(model, monkeypatch)
    model.train()
    model.pseudo_gt_enabled = True
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    assert len(seen) == 2  # the SCM's loss and the pseudo boxes
    for feats in seen:
        assert feats is not None and not feats.requires_grad
        assert feats.shape[:2] == (2, channels)
    if channels == 3:  # the preprocessed images themselves
        torch.testing.assert_close(seen[0], data['inputs'])
    else:  # the backbone's stride-8 map
        assert feats.shape[-2:] == tuple(s // 8
                                         for s in data['inputs'].shape[-2:])
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    extent = model.scm.detector.extent_trunk[0].weight.grad
    assert extent is not None and extent.abs().sum() > 0


def test_predict_stages_gives_the_scm_the_image(synthetic_root,
                                                monkeypatch):
    model, batch = _model_and_batch(synthetic_root,
                                    dict(type='HeatmapImageInputs'),
                                    split='val_dataloader')
    seen = _recording(model, monkeypatch)
    model.eval()
    data = model.data_preprocessor(batch, False)
    outs = model.predict_stages(data['inputs'], data['data_samples'])
    assert len(outs) == 2 and all(o['scm'] is not None for o in outs)
    assert seen and all(f is not None and f.shape[1] == 3 for f in seen)


def test_paper_inputs_get_no_feats(synthetic_root):
    model, batch = _model_and_batch(synthetic_root,
                                    dict(type='HeatmapInputs'))
    assert model.scm_feats(torch.zeros(1, 3, 8, 8), [None]) is None
    assert model.scm.detector.extent_trunk is None


def test_pseudo_boxes_seed_the_refinement_when_switched_on(
        synthetic_root, monkeypatch):
    model, batch = _model_and_batch(synthetic_root,
                                    dict(type='HeatmapInputs'))
    model.rec_pseudo_seeds = True
    seeds = record_calls(monkeypatch, model.rec_head.bbox_head, 'loss',
                         lambda args, kwargs, _: args[3])  # gt_instances
    pseudos = record_calls(monkeypatch, model, 'pseudo_boxes')
    model.train()
    data = model.data_preprocessor(batch, True)
    model.pseudo_gt_enabled = False  # the warm-up: the paper's seeds
    model(**data, mode='loss')
    assert seeds == [None] and not pseudos
    model.pseudo_gt_enabled = True
    losses = model(**data, mode='loss')
    assert len(pseudos) == 1 and len(seeds) == 2
    for seed, pseudo in zip(seeds[1], pseudos[0]):
        # rec_classes='all': a rec column is the global label
        assert torch.equal(seed.labels, pseudo.labels)
        torch.testing.assert_close(seed.bboxes, pseudo.bboxes)
    assert sum(len(s.labels) for s in seeds[1]) > 0
    sum(v for k, v in losses.items() if 'loss' in k).backward()


def test_rec_seed_instances_map_labels_and_follow_base_seeds(synthetic_root):
    model, _ = _model_and_batch(synthetic_root, dict(type='HeatmapInputs'))
    model.rec_label_map = [5, 6, 7]  # as with rec_classes='novel'
    model.num_classes = 10
    pseudo = [InstanceData(bboxes=torch.tensor([[0., 0., 4., 4.],
                                                [1., 1., 5., 5.]]),
                           labels=torch.tensor([7, 2]))]
    base = [InstanceData(bboxes=torch.tensor([[2., 2., 8., 8.]]),
                         labels=torch.tensor([1]))]
    out = model.rec_seed_instances(pseudo)
    assert out[0].labels.tolist() == [2]  # label 7 is column 2; 2 unscored
    torch.testing.assert_close(out[0].bboxes, pseudo[0].bboxes[:1])
    both = model.rec_seed_instances(pseudo, base)
    assert both[0].labels.tolist() == [1, 2]
    assert both[0].bboxes[0].tolist() == [2., 2., 8., 8.]


def test_scores_off_base_boxes(synthetic_root):
    model, _ = _model_and_batch(synthetic_root, dict(type='HeatmapInputs'))
    sample = DetDataSample()
    # a base box (label 1) and a novel one (label 7, as test data may hold)
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[0., 0., 10., 10.], [20., 20., 30., 30.]]),
        labels=torch.tensor([1, 7]))
    props = torch.tensor([[0., 0., 10., 9.],  # the base object
                          [20., 20., 30., 30.],  # the novel one
                          [0., 0., 20., 20.]])  # IoU 0.25 with the base box
    scores = torch.rand(3, 10)
    out, = model.scores_off_base_boxes([props], [scores], [sample])
    novel = model.novel_labels
    assert (out[0, novel] == 0).all()
    torch.testing.assert_close(out[0, model.base_labels],
                               scores[0, model.base_labels])
    torch.testing.assert_close(out[1:], scores[1:])
    assert scores[0, novel].gt(0).all()  # the input is not changed
    empty = DetDataSample()
    out, = model.scores_off_base_boxes([props], [scores], [empty])
    torch.testing.assert_close(out, scores)


def test_pseudo_boxes_off_base_boxes_in_a_training_step(
        synthetic_root, monkeypatch):
    model, batch = _model_and_batch(synthetic_root,
                                    dict(type='HeatmapInputs'))
    model.pseudo_off_base_boxes = True
    seen = record_calls(monkeypatch, model, 'pseudo_boxes',
                        lambda args, kwargs, _: args[:2])
    model.train()
    model.pseudo_gt_enabled = True
    data = model.data_preprocessor(batch, True)
    model(**data, mode='loss')
    (proposals, scores), = seen
    zeroed = 0
    for props, s, sample in zip(proposals, scores, data['data_samples']):
        iou = bbox_overlaps(props, get_box_tensor(sample.gt_instances.bboxes))
        on_base = iou.amax(dim=1) >= 0.5
        assert (s[on_base][:, model.novel_labels] == 0).all()
        zeroed += int(on_base.sum())
    assert zeroed > 0
