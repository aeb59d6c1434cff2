"""Pretrain SmallVGG by classifying single-object crops of the generated
data set (this project's analogue of the paper's ImageNet weights).

    python tools/misc/pretrain_backbone.py
        [--out checkpoints/small_vgg_crops.pth]
        [--iters 400] [--batch-size 64] [--size 96] [--lr 0.05] [--seed 0]
        [--workers 2] [--family default|yard]

SmallVGG (default arguments) + global average pooling + a linear
classifier over the 10 classes, SGD with momentum 0.9 and a cosine learning
rate, on crops made on the fly by
:func:`mmdet_csod.synthetic.crops.make_crop_batch`. Pixels are
normalised like the configs' data_preprocessor (BGR -> RGB, ImageNet mean
and std). Loss and accuracy are logged every 100 iterations, and the
accuracy on 500 fresh crops at the end. ``--family yard`` classifies the
yard scenes' ten classes instead (mmdet_csod/synthetic/yard_scene.py): the
analogue of ImageNet weights for that family (``meta['family']``).

The checkpoint is mmengine style: ``state_dict`` holds only the backbone,
keys prefixed ``backbone.``, so ``load_checkpoint(model, path,
strict=False)`` fills a DRN's backbone, as does ``load_from`` or
``model.backbone.init_cfg=dict(type='Pretrained', checkpoint=PATH,
prefix='backbone.')``. ``meta`` holds plain data only (the file loads with
``torch.load(weights_only=True)``): iterations, held-out accuracy, seed,
classes, the other arguments and the loss of every iteration.
"""
import argparse
import math
import os
import os.path as osp
import sys
import time

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, IterableDataset  # noqa: E402

MEAN = (123.675, 116.28, 103.53)  # RGB, as in the configs
STD = (58.395, 57.12, 57.375)
HELD_OUT = 500
HELD_OUT_STREAM = 0x7E57
LOG_INTERVAL = 100
WARMUP_ITERS = 50


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out',
        default='checkpoints/small_vgg_crops.pth',
        help='checkpoint to write')
    parser.add_argument('--iters', type=int, default=400)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--size', type=int, default=96, help='crop side')
    parser.add_argument('--lr', type=float, default=0.05)
    parser.add_argument('--weight-decay', type=float, default=1e-4)
    parser.add_argument('--seed', type=int, default=0)
    from mmdet_csod.synthetic import FAMILIES
    parser.add_argument(
        '--family',
        choices=sorted(FAMILIES),
        default='default',
        help="scene family whose objects the crops show (default: "
        "'default', the README's benchmarks)")
    parser.add_argument(
        '--workers',
        type=int,
        default=2,
        help='DataLoader processes making crops (0 = in this process)')
    args = parser.parse_args(argv)
    for name in ('iters', 'batch_size', 'size'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1')
    if args.workers < 0:
        parser.error('--workers must be >= 0')
    return args


class CropStream(IterableDataset):
    """Endless batches of crops; worker ``w`` draws batch ``k`` from
    ``np.random.default_rng([seed, w, k])``, so the stream depends only
    on the seed and the number of workers."""

    def __init__(self,
                 batch_size: int,
                 size: int,
                 seed: int,
                 family: str = 'default'):
        self.batch_size, self.size, self.seed = batch_size, size, seed
        self.family = family

    def __iter__(self):
        from mmdet_csod.synthetic import make_crop_batch
        info = torch.utils.data.get_worker_info()
        worker = 0 if info is None else info.id
        if info is not None:
            torch.set_num_threads(1)
            try:
                import cv2
                cv2.setNumThreads(1)
            except ImportError:
                pass
        k = 0
        while True:
            rng = np.random.default_rng([self.seed, worker, k])
            imgs, labels = make_crop_batch(rng, self.batch_size, self.size,
                                           self.family)
            yield torch.from_numpy(imgs), torch.from_numpy(labels)
            k += 1


def normalize(imgs: torch.Tensor) -> torch.Tensor:
    """uint8 [B, H, W, 3] BGR -> float [B, 3, H, W] normalised RGB."""
    x = imgs.flip(-1).permute(0, 3, 1, 2).float()
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


class Classifier(nn.Module):
    """SmallVGG + global average pooling + a linear layer."""

    def __init__(self, num_classes: int):
        super().__init__()
        from mmdet.registry import MODELS
        from mmengine.logging import MMLogger

        import mmdet_csod  # noqa: F401  registers SmallVGG
        self.backbone = MODELS.build(dict(type='SmallVGG'))
        # init_weights reports every parameter to the current logger
        MMLogger.get_instance('pretrain_backbone', log_level='WARNING')
        self.backbone.init_weights()
        self.fc = nn.Linear(self.backbone.out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.backbone(x)[0]
        return self.fc(feat.mean(dim=(2, 3)))


def lr_at(it: int, iters: int, base_lr: float) -> float:
    """Cosine decay to 0 with a short linear warmup."""
    warm = min(1.0, (it + 1) / min(WARMUP_ITERS, max(1, iters // 10)))
    return base_lr * warm * 0.5 * (1 + math.cos(math.pi * it / iters))


@torch.no_grad()
def evaluate(model: nn.Module,
             seed: int,
             size: int,
             family: str = 'default') -> float:
    from mmdet_csod.synthetic import make_crop_batch
    rng = np.random.default_rng([seed, HELD_OUT_STREAM])
    imgs, labels = make_crop_batch(rng, HELD_OUT, size, family)
    model.eval()
    correct = 0
    for i in range(0, HELD_OUT, 100):
        x = normalize(torch.from_numpy(imgs[i:i + 100]))
        pred = model(x).argmax(1)
        correct += int((pred == torch.from_numpy(labels[i:i + 100])).sum())
    model.train()
    return correct / HELD_OUT


def main(argv=None):
    args = parse_args(argv)
    from mmdet_csod.synthetic import get_family
    classes = get_family(args.family).classes
    torch.manual_seed(args.seed)
    model = Classifier(len(classes))
    model.train()
    optim = torch.optim.SGD(
        model.parameters(),
        lr=args.lr,
        momentum=0.9,
        weight_decay=args.weight_decay)
    loader = DataLoader(
        CropStream(args.batch_size, args.size, args.seed, args.family),
        batch_size=None,
        num_workers=args.workers,
        prefetch_factor=4 if args.workers else None)
    losses, t0 = [], time.time()
    run_loss = run_correct = run_seen = 0
    for it, (imgs, labels) in enumerate(loader):
        if it >= args.iters:
            break
        for group in optim.param_groups:
            group['lr'] = lr_at(it, args.iters, args.lr)
        logits = model(normalize(imgs))
        loss = nn.functional.cross_entropy(logits, labels)
        optim.zero_grad()
        loss.backward()
        optim.step()
        value = float(loss.detach())
        losses.append(value)
        run_loss += value * len(labels)
        run_correct += int((logits.argmax(1) == labels).sum())
        run_seen += len(labels)
        if (it + 1) % LOG_INTERVAL == 0 or it + 1 == args.iters:
            print(
                f'iter {it + 1}/{args.iters} '
                f'lr {optim.param_groups[0]["lr"]:.4f} '
                f'loss {run_loss / run_seen:.4f} '
                f'acc {run_correct / run_seen:.3f} '
                f'time {time.time() - t0:.0f}s',
                flush=True)
            run_loss = run_correct = run_seen = 0
    del loader
    train_time = time.time() - t0
    accuracy = evaluate(model, args.seed, args.size, args.family)
    print(f'held-out accuracy ({HELD_OUT} crops): {accuracy:.4f}', flush=True)
    meta = dict(
        iters=args.iters,
        accuracy=accuracy,
        seed=args.seed,
        classes=list(classes),
        family=args.family,
        batch_size=args.batch_size,
        size=args.size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        workers=args.workers,
        train_time_s=round(train_time, 1),
        losses=losses,
        backbone=dict(type='SmallVGG'),
        tool='tools/misc/pretrain_backbone.py')
    state_dict = {
        f'backbone.{k}': v.detach().clone()
        for k, v in model.backbone.state_dict().items()
    }
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    tmp = args.out + '.tmp'
    torch.save(dict(meta=meta, state_dict=state_dict), tmp)
    os.replace(tmp, args.out)
    print(args.out)
    return args.out


if __name__ == '__main__':
    main()
