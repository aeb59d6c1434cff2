"""Shared start-up of the command-line tools: import path and config I/O."""
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
