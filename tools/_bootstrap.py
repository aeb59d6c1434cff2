"""Shared start-up of the command-line tools: import path, config I/O and
distributed set-up on CPU."""
import os
import os.path as osp
import sys

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def load_config(path: str, cfg_options=None, work_dir: str = None):
    """Config from ``path`` with ``--cfg-options`` merged and a work_dir.

    The work_dir is, by priority: the command line, the config, then
    ``work_dirs/<config name>``.
    """
    from mmengine.config import Config
    if not osp.isfile(path):
        raise FileNotFoundError(f'config not found: {path}')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
        # Config.fromfile imported the file's custom_imports; the command
        # line may have named more.
        if any(k.split('.')[0] == 'custom_imports' for k in cfg_options):
            from mmengine.utils import import_modules_from_strings
            import_modules_from_strings(**cfg.custom_imports)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(path))[0])
    return cfg


def build_runner(cfg):
    """The runner named by ``runner_type`` in the config, else mmengine's."""
    from mmengine.runner import Runner
    if 'runner_type' in cfg:
        from mmdet.registry import RUNNERS
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def set_local_rank(local_rank: int) -> None:
    os.environ.setdefault('LOCAL_RANK', str(local_rank))


def setup_cpu_distributed(cfg, launcher: str) -> bool:
    """Let ``--launcher pytorch`` (torchrun) run without CUDA, on gloo.

    mmengine's pytorch launcher calls ``torch.cuda.set_device`` and wraps the
    model with ``device_ids=[LOCAL_RANK]``, both of which need a GPU. Without
    CUDA this starts the gloo process group from torchrun's environment
    (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) before the Runner is built,
    so that mmengine skips its own start, and has the model wrapped by
    MMDistributedDataParallel without device ids. ``find_unused_parameters``
    keeps the config's value (``model_wrapper_cfg`` or the top-level key),
    else is True: safe for models that skip a branch in some iterations, at
    the cost of a graph traversal per step. With CUDA, nothing changes
    (mmengine's NCCL path, where the top-level key defaults to False).

    Returns whether it set anything up.
    """
    import datetime

    import torch
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        if key not in os.environ:
            raise RuntimeError(f'--launcher pytorch: {key} is not set; start '
                               'the tool with torchrun (tools/dist_train.sh, '
                               'tools/dist_test.sh)')
    env_cfg = dict(cfg.get('env_cfg') or {})
    dist_cfg = dict(env_cfg.get('dist_cfg') or {}, backend='gloo')
    cfg.env_cfg = dict(env_cfg, dist_cfg=dist_cfg)
    if not dist.is_initialized():
        dist.init_process_group(
            backend='gloo',
            init_method='env://',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            timeout=datetime.timedelta(seconds=dist_cfg.get('timeout', 1800)))

    from mmdet.registry import MODEL_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper_type = MODEL_WRAPPERS.get(wrapper['type'])
    if isinstance(wrapper_type, type) and issubclass(wrapper_type,
                                                     DistributedDataParallel):
        wrapper['device_ids'] = None  # the module's device: the CPU
        wrapper.setdefault('broadcast_buffers', False)  # as mmengine does
        wrapper.setdefault('find_unused_parameters',
                           cfg.get('find_unused_parameters', True))
    cfg.model_wrapper_cfg = wrapper
    return True
