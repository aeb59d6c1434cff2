# Ours+ on the two-epoch schedule of the other tiny configs (the previous
# round's Ours+): the pseudo boxes teach the detection head and the SCM for
# one epoch instead of two. Everything else as ../drn-plus_tiny_synthetic.py.
_base_ = '../drn-plus_tiny_synthetic.py'
train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(
        type='CosineAnnealingLR',
        T_max=2,
        eta_min=2e-4,
        begin=0,
        end=2,
        by_epoch=True,
        convert_to_iter_based=True)
]
