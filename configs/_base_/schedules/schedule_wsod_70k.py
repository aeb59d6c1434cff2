# The OICR / PCL schedule on VOC07 trainval as the papers report it: SGD,
# momentum 0.9, weight decay 5e-4, 2 images a batch, lr 1e-3 for 40k
# iterations then 1e-4 for 30k. Configs using it set the batch size, an
# InfiniteSampler and iteration-based checkpoints and logging.
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=70000, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=70000,
        by_epoch=False,
        milestones=[40000],
        gamma=0.1)
]
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=5e-4))
auto_scale_lr = dict(enable=False, base_batch_size=2)
