# Two epochs of SGD for the small models on the generated dataset (CPU, a few
# minutes an epoch for 600 images at batch size 4), cosine learning rate.
# ResumableEpochBasedTrainLoop: a job killed mid-epoch and restarted with
# --resume goes on from the batch after its last checkpoint (save them by
# iteration: default_hooks.checkpoint.by_epoch=False, interval=N).
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=2, val_interval=2)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    # cosine decay over the two epochs, stepped every iteration: the second
    # epoch, where the DRN adds novel pseudo boxes, still starts near lr 0.01
    dict(
        type='CosineAnnealingLR',
        T_max=2,
        eta_min=2e-4,
        begin=0,
        end=2,
        by_epoch=True,
        convert_to_iter_based=True)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False, base_batch_size=4)
