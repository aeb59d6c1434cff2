# Ours+ with one pseudo box per novel class present (the paper's): the
# GroupNorm in the SCM's trunk stays.
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(
    scm=dict(max_per_query=1, detector=dict(test_cfg=dict(max_per_img=1))))
