"""Test helper for tests/tools/test_dist_train.py (not a test module).

RankImagesHook appends the image paths of every training batch to
``<work_dir>/seen_rank<rank>.txt`` and, when training ends, the sum of each
of the model's parameters to ``<work_dir>/params_rank<rank>.json``: what each
process of a distributed run saw, and whether their weights stayed in sync.

A parameter is recorded as the sha256 of its bytes, not as a sum: a float sum
depends on the reduction order, which changes with the number of threads
(torchrun gives each worker one thread, the test process has all cores), so
two sums of the same tensor can differ in the last digit.
"""
import hashlib
import json
import os.path as osp

import torch
from mmdet.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


def tensor_digest(tensor):
    """sha256 of a tensor's dtype, shape and bytes (exact, order-free)."""
    array = tensor.detach().cpu().contiguous().numpy()
    head = f'{array.dtype}{array.shape}'.encode()
    return hashlib.sha256(head + array.tobytes()).hexdigest()


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
            digests = {
                name: tensor_digest(p)
                for name, p in model.named_parameters()
            }
        with open(self._file(runner, 'params', '.json'), 'w') as f:
            json.dump(digests, f)
