"""Shared start-up of the command-line tools: import path, config I/O and
distributed set-up on CPU."""
import os
import os.path as osp
import subprocess
import sys
import time

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


def ensure_pretrained_backbone(cfg,
                               wait_s: float = 3600,
                               poll_s: float = 5) -> None:
    """Make the crop-pretrained SmallVGG weights a config starts from.

    The small configs' ``model.backbone.init_cfg`` loads
    checkpoints/small_vgg_crops.pth (or ``CSOD_PRETRAINED``), this project's
    analogue of the ImageNet weights mmdet downloads on first use. When the
    file is missing, it is made once, like a download, by
    tools/misc/pretrain_backbone.py (a few minutes on 2 cores) in the
    process of rank 0; other ranks wait for it (the tool writes it
    atomically). A missing local checkpoint of another backbone is an error
    that names the file and the field.
    """
    backbone = cfg.model.get('backbone') or {}
    init = backbone.get('init_cfg')
    if not isinstance(init, dict) or init.get('type') != 'Pretrained':
        return
    path = init.get('checkpoint')
    if not path or '://' in path or osp.isfile(path):
        return
    if backbone.get('type') != 'SmallVGG':
        raise FileNotFoundError(
            f'{path} (model.backbone.init_cfg.checkpoint) not found')
    if int(os.environ.get('RANK', '0')) == 0:
        print(f'{path} (model.backbone.init_cfg: the crop-pretrained '
              'backbone) not found: making it once with '
              'tools/misc/pretrain_backbone.py', flush=True)
        subprocess.run([
            sys.executable,
            osp.join(REPO_ROOT, 'tools', 'misc', 'pretrain_backbone.py'),
            '--out', path
        ], check=True)
        return
    deadline = time.monotonic() + wait_s
    while not osp.isfile(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f'{path}: rank 0 did not make the pretrained '
                               f'backbone within {wait_s:.0f} s')
        time.sleep(poll_s)


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
