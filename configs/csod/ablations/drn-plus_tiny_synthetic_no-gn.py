# Ours+ without the GroupNorm in the SCM's trunk (as Ours): the several
# pseudo boxes per class stay.
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(scm=dict(detector=dict(norm_cfg=None)))
