"""Shared by the Table-1 benchmark tests: the tool loaded as a module, a
stand-in backbone checkpoint and hand-made run records."""
import torch
from conftest import load_tool
from mmdet.registry import MODELS

TOOL = 'tools/analysis_tools/benchmark_table1.py'
HEADER = ('| Method | Supervision | base mAP50 | novel mAP50 | '
          'novel CorLoc (train) | train time (min) | peak mem (MiB) | '
          'seeds |')
BASE = ['cart', 'bottle', 'sign', 'house', 'kite']
NOVEL = ['person', 'horse', 'lamp', 'fish', 'tree']


def table1_tool():
    return load_tool(TOOL)


def stand_in_pretrained(path):
    """A checkpoint in pretrain_backbone.py's layout, from random weights."""
    backbone = MODELS.build(dict(type='SmallVGG'))
    state_dict = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    torch.save(dict(meta=dict(), state_dict=state_dict), path)
    return str(path)


def method_of(tool, name):
    return next(m for m in tool.METHODS if m.name == name)


def ok_record(method, seed, novel, stages=None, **figures):
    """A successful run record with novel AP50 per class ``novel``."""
    values = [v for v in novel.values() if v is not None]
    mean = sum(values) / len(values) if values else None
    return dict(method=method, seed=seed, status='ok', novel_map50=mean,
                novel_ap50_per_class=novel, base_ap50_per_class=dict(
                    cart=50.0), stages=stages, **figures)


def stage_figures(rec_all, scm_free=None, fallback=None):
    scm = dict(free=dict(corloc=scm_free)) if scm_free is not None else {}
    if fallback is not None:
        scm['all'] = dict(fallback=fallback)
    return dict(
        rec=dict(
            novel=dict(
                all=dict(corloc=rec_all, mean_iou=50.0, count=10,
                         area_ratio=rec_all / 50),
                touching=dict(corloc=rec_all - 10, count=4)),
            base=dict(all=dict(corloc=90.0))),
        scm=dict(novel=scm))
