"""Test helper for tests/tools/test_dist_train.py (not a test module).

RankImagesHook appends the image paths of every training batch to
``<work_dir>/seen_rank<rank>.txt`` and, when training ends, the sum of each
of the model's parameters to ``<work_dir>/params_rank<rank>.json``: what each
process of a distributed run saw, and whether their weights stayed in sync.
"""
import json
import os.path as osp

import torch
from mmdet.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module(force=True)
class RankImagesHook(Hook):

    def _file(self, runner, stem, ext):
        return osp.join(runner.work_dir, f'{stem}_rank{get_rank()}{ext}')

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        with open(self._file(runner, 'seen', '.txt'), 'a') as f:
            for sample in data_batch['data_samples']:
                f.write(sample.img_path + '\n')

    def after_train(self, runner):
        model = runner.model
        model = model.module if is_model_wrapper(model) else model
        with torch.no_grad():
            sums = {
                name: p.double().sum().item()
                for name, p in model.named_parameters()
            }
        with open(self._file(runner, 'params', '.json'), 'w') as f:
            json.dump(sums, f)
