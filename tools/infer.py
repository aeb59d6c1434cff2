"""Detect objects in your own images with a trained checkpoint.

    python tools/infer.py [CONFIG] CHECKPOINT INPUT... --out-dir DIR
        [--score-thr 0.3] [--device cpu|cuda[:N]] [--batch-size 1]
        [--palette random] [--allow-partial] [--cfg-options KEY=VALUE ...]

INPUT: image files, folders (the images directly in them) and glob patterns
(quote them; ``**`` recurses). The run goes through mmdet's
``DetInferencer``, with a progress bar, and writes, per image ``<name>.<ext>``:

    DIR/preds/<name>.json   DetInferencer's layout: labels, scores, bboxes
                            (x1, y1, x2, y2 in pixels of the image), every
                            detection the model keeps (its test_cfg), plus
                            label_names (the class of each) and classes
    DIR/vis/<name>.<ext>    the image with the detections scoring at least
                            --score-thr drawn by mmdet's visualizer

Proposals are computed on the fly by the config's test pipeline
(``LoadOrComputeProposals`` with the ``proposal_cfg`` the training proposals
were made with; an RPN model makes its own): no dataset, proposal file or
data root is read. CONFIG may be left out when CHECKPOINT carries its config
text (every training checkpoint and every published one does). Errors (a
missing input, a file that is not an image, a checkpoint that does not fit
the config, ...) are one line on stderr and exit status 1.
"""
import argparse
import glob
import os
import os.path as osp
import sys
import warnings

from _bootstrap import REPO_ROOT  # noqa: F401  puts the repository on the path
from mmengine.config import DictAction

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


class InferError(ValueError):
    """Bad input to this tool; the message says which and why."""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        usage='%(prog)s [CONFIG] CHECKPOINT INPUT... --out-dir DIR '
        '[options]')
    parser.add_argument(
        'paths',
        nargs='+',
        metavar='[CONFIG] CHECKPOINT INPUT',
        help='the config (a .py file; optional when the checkpoint carries '
        'its config), the checkpoint, then images, folders and globs')
    parser.add_argument(
        '--out-dir', required=True, help='where preds/ and vis/ are written')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=0.3,
        help='draw detections scoring at least this (default 0.3); the json '
        'keeps all')
    parser.add_argument(
        '--device', default='cpu', help='cpu, cuda or cuda:N (default cpu)')
    parser.add_argument(
        '--batch-size', type=int, default=1, help='images per forward pass')
    parser.add_argument(
        '--palette',
        help="box colours: a palette name of mmdet's visualizer (random, "
        "coco, voc, ...); default: the checkpoint's, else random")
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='load a checkpoint that does not fit the model (the keys that '
        'fit; the rest stays as initialised)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, key=value (e.g. '
        'model.test_cfg.rcnn.score_thr=0.1)')
    args = parser.parse_args(argv)
    if args.paths[0].endswith('.py'):
        args.config, rest = args.paths[0], args.paths[1:]
    else:
        args.config, rest = None, args.paths
    if len(rest) < 2:
        parser.error('give a CHECKPOINT and at least one INPUT (after the '
                     'CONFIG, when there is one)')
    args.checkpoint, args.inputs = rest[0], rest[1:]
    if not 0.0 <= args.score_thr <= 1.0:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    if args.batch_size < 1:
        parser.error('--batch-size must be at least 1')
    return args


def _is_image_name(path):
    return path.lower().endswith(IMG_EXTENSIONS)


def expand_inputs(inputs):
    """Image files of ``inputs``, in the order given (a folder's and a
    glob's sorted by name). A named file must exist; a folder or a glob must
    give at least one image file (other files in them are skipped)."""
    files = []
    for item in inputs:
        if osp.isdir(item):
            found = sorted(
                osp.join(item, name) for name in os.listdir(item)
                if _is_image_name(name) and osp.isfile(osp.join(item, name)))
            if not found:
                raise InferError(f'{item}: folder without an image file '
                                 f'({", ".join(IMG_EXTENSIONS)})')
            files += found
        elif osp.isfile(item):
            files.append(item)
        elif glob.has_magic(item):
            found = sorted(
                p for p in glob.glob(item, recursive=True)
                if osp.isfile(p) and _is_image_name(p))
            if not found:
                raise InferError(f'{item}: the pattern matches no image file')
            files += found
        else:
            raise InferError(f'{item}: input not found (no such file, folder '
                             'or matching pattern)')
    seen, repeated = {}, []
    for path in files:
        stem = osp.splitext(osp.basename(path))[0]
        if stem in seen and osp.abspath(seen[stem]) != osp.abspath(path):
            repeated.append(f'{seen[stem]} and {path}')
        seen.setdefault(stem, path)
    if repeated:
        raise InferError('inputs with the same name would overwrite each '
                         'other\'s preds/<name>.json: ' +
                         '; '.join(repeated[:5]) + '; run them separately')
    return list(dict.fromkeys(files))  # the same file given twice: once


def check_images(files):
    """Raise :class:`InferError` naming the first file that is not a
    readable image (read and decoded as the pipeline will)."""
    import cv2
    for path in files:
        if cv2.imread(path, cv2.IMREAD_COLOR) is None:
            raise InferError(f'{path}: not an image (OpenCV cannot decode '
                             'it: another kind of file, or a corrupt one)')


def load_checkpoint(path):
    """The checkpoint dict (the project's safe loading and its errors, which
    name the file)."""
    if '://' not in path and not osp.isfile(path):
        raise FileNotFoundError(f'{path} (CHECKPOINT) not found')
    from mmengine.runner.checkpoint import _load_checkpoint
    import torch
    ckpt = _load_checkpoint(path, map_location='cpu')
    if isinstance(ckpt, dict) and 'state_dict' not in ckpt and ckpt and all(
            isinstance(v, torch.Tensor) for v in ckpt.values()):
        ckpt = dict(state_dict=ckpt)  # a bare state dict
    if not isinstance(ckpt, dict) or 'state_dict' not in ckpt:
        from mmdet_csod.utils import CorruptCheckpointError
        raise CorruptCheckpointError(f'{path}: no state_dict in this file; '
                                     'is it a checkpoint?')
    return ckpt


def resolve_config(config, ckpt, ckpt_path, cfg_options=None):
    """The config: CONFIG, else the text in the checkpoint's meta, with
    ``cfg_options`` merged; its test pipeline must be able to compute
    proposals (or the model make its own). Warns when the checkpoint records
    other proposal settings."""
    from mmengine.config import Config

    from mmdet_csod.datasets.transforms.loading import (check_proposal_cfg,
                                                        proposal_step)
    meta = ckpt.get('meta') or {}
    if config is not None:
        if not osp.isfile(config):
            raise FileNotFoundError(f'config not found: {config}')
        cfg, name = Config.fromfile(config), config
    elif isinstance(meta.get('cfg'), str):
        cfg = Config.fromstring(meta['cfg'], file_format='.py')
        name = f'the config in {ckpt_path}'
    else:
        raise InferError(f'{ckpt_path} carries no config text (meta.cfg): '
                         'give the CONFIG it was trained with')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    pipeline = cfg.get('test_dataloader', {}).get('dataset',
                                                  {}).get('pipeline')
    if not pipeline:
        raise InferError(f'{name} has no test_dataloader.dataset.pipeline')
    step = proposal_step(pipeline)
    if step is None and any(
            s.get('type') in ('LoadProposals', 'mmdet.LoadProposals')
            for s in pipeline):
        raise InferError(
            f'the test pipeline of {name} reads proposals from a dataset '
            'only (LoadProposals), so it cannot run on new images; give the '
            "project's CONFIG for this model (its test pipeline computes "
            'them: LoadOrComputeProposals)')
    if step is not None and 'proposal_cfg' in meta:
        used = check_proposal_cfg(step.get('proposal_cfg'))
        recorded = check_proposal_cfg(meta['proposal_cfg'])
        if used != recorded:
            warnings.warn(
                f'{ckpt_path} records the proposals it was trained on as '
                f'{recorded}, but {name} computes {used}: detections may be '
                'worse; use the config the checkpoint was trained with')
    return cfg, name


def make_inferencer(cfg,
                    config_name,
                    ckpt,
                    ckpt_path,
                    device,
                    palette=None,
                    allow_partial=False,
                    show_progress=True):
    """An mmdet ``DetInferencer`` of ``cfg`` with the checkpoint's weights,
    checked to fit the model, and class names (the checkpoint's, else the
    config's) written into every prediction; it never builds the dataset."""
    from mmdet.apis import DetInferencer
    from mmengine import dump

    from mmdet_csod.utils import check_checkpoint_fits
    own = dict((ckpt.get('meta') or {}).get('dataset_meta') or {})
    metainfo = dict(cfg.test_dataloader.dataset.get('metainfo') or {})
    if not own.get('classes'):
        if not metainfo.get('classes'):
            raise InferError(f'neither {ckpt_path} (meta.dataset_meta) nor '
                             f'{config_name} (test_dataloader.dataset.'
                             'metainfo) names the classes')
        warnings.warn(f'{ckpt_path} carries no class names '
                      f'(meta.dataset_meta): using those of {config_name}')
    elif metainfo.get('classes') and \
            tuple(metainfo['classes']) != tuple(own['classes']):
        warnings.warn(f'the classes of {config_name} differ from those '
                      f'{ckpt_path} was trained with; the checkpoint\'s are '
                      f'used: {tuple(own["classes"])}')
    dataset_meta = own if own.get('classes') else metainfo
    palette = palette or dataset_meta.get('palette') or 'random'

    class CSODDetInferencer(DetInferencer):
        """DetInferencer with the fit check and named labels."""

        def _load_weights_to_model(self, model, checkpoint, cfg):
            if checkpoint is not None:
                if 'state_dict' not in checkpoint:  # a bare state dict
                    checkpoint = dict(state_dict=checkpoint)
                if not allow_partial:
                    check_checkpoint_fits(
                        model,
                        checkpoint,
                        ckpt_path,
                        config_name,
                        flag='--allow-partial')
                meta = checkpoint.setdefault('meta', {})
                meta['dataset_meta'] = dict(dataset_meta)
            super()._load_weights_to_model(model, checkpoint, cfg)

        def pred2dict(self, data_sample, pred_out_dir=''):
            result = super().pred2dict(data_sample, '')
            classes = list(self.model.dataset_meta['classes'])
            result['label_names'] = [
                classes[i] if 0 <= i < len(classes) else str(i)
                for i in result.get('labels', [])
            ]
            result['classes'] = classes
            if pred_out_dir:
                if data_sample.get('img_path'):
                    name = osp.splitext(osp.basename(data_sample.img_path))[0]
                else:  # an array: the name of its picture in vis/
                    name = str(self.num_predicted_imgs).zfill(8)
                    self.num_predicted_imgs += 1
                dump(result, osp.join(pred_out_dir, 'preds', name + '.json'))
            return result

    return CSODDetInferencer(
        model=cfg,
        weights=ckpt_path,
        device=device,
        palette=palette,
        show_progress=show_progress)


def check_device(device):
    import torch
    if device.startswith('cuda'):
        if not torch.cuda.is_available():
            raise InferError(f'--device {device}: no CUDA device here '
                             '(torch.cuda.is_available() is False)')
    elif device != 'cpu':
        raise InferError(f'--device must be cpu, cuda or cuda:N, got '
                         f'{device!r}')


def main(argv=None):
    """Run the tool; return DetInferencer's result dict."""
    args = parse_args(argv)
    import mmdet_csod  # noqa: F401  registers the project, safe loading
    check_device(args.device)
    files = expand_inputs(args.inputs)
    check_images(files)
    ckpt = load_checkpoint(args.checkpoint)
    cfg, config_name = resolve_config(args.config, ckpt, args.checkpoint,
                                      args.cfg_options)
    if cfg.get('visualizer'):
        # pictures go to DIR/vis/ (DetInferencer's out_dir); the config's
        # backends would only ask for a save_dir
        cfg.visualizer.vis_backends = None
    inferencer = make_inferencer(cfg, config_name, ckpt, args.checkpoint,
                                 args.device, args.palette, args.allow_partial)
    del ckpt
    print(
        f'{len(files)} image(s) -> {args.out_dir}/preds, '
        f'{args.out_dir}/vis',
        flush=True)
    results = inferencer(
        files,
        batch_size=args.batch_size,
        out_dir=args.out_dir,
        no_save_pred=False,
        no_save_vis=False,
        pred_score_thr=args.score_thr)
    for path, pred in list(zip(files, results['predictions']))[:20]:
        shown = [
            f'{n} {s:.2f}' for n, s in zip(pred['label_names'], pred['scores'])
            if s >= args.score_thr
        ]
        print(f'{osp.basename(path)}: {len(shown)} detection(s) >= '
              f'{args.score_thr}' +
              (': ' + ', '.join(shown[:8]) +
               (' ...' if len(shown) > 8 else '') if shown else ''))
    if len(files) > 20:
        print(f'... and {len(files) - 20} more image(s)')
    return results


def cli(argv=None):
    """``main``, with input errors as one line and exit status 1."""
    from mmdet_csod.utils import CheckpointError
    try:
        return main(argv)
    except (InferError, CheckpointError, FileNotFoundError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        raise SystemExit(1)


if __name__ == '__main__':
    cli()
