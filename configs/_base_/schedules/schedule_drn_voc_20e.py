# The paper's VOC schedule: 20 epochs of SGD (momentum 0.9, weight decay
# 5e-4, lr 1e-3, / 10 at the 14th epoch). Configs using it hold back the
# pseudo ground truth for the first 9 epochs (PseudoGTSwitchHook with
# start_epoch=9: 0-based epochs 0-8 go without, the 10th is the first with).
# The 500-iteration linear warm-up and the gradient clipping are additions;
# the paper names neither.
# ResumableEpochBasedTrainLoop: a job killed mid-epoch and restarted with
# --resume goes on from the batch after its last checkpoint (save them by
# iteration: default_hooks.checkpoint.by_epoch=False, interval=N).
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=20, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=20,
        by_epoch=True,
        # "reduced by a factor of 10 at 14th epoch": mmengine counts
        # finished epochs, so milestone 13 makes the 14th epoch (0-based
        # index 13) the first at 1e-4, after 13 epochs at 1e-3
        milestones=[13],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4),
    clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=2)
