# Ours+ on the two-epoch schedule of the other tiny configs (the previous
# round's Ours+): the pseudo boxes teach the detection head and the SCM for
# one epoch instead of two. Everything else as ../drn-plus_tiny_synthetic.py.
_base_ = '../drn-plus_tiny_synthetic.py'
train_cfg = dict(max_epochs=2, val_interval=2)
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=2, end=2)
]
