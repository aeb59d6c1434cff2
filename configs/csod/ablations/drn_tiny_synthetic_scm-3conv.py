# Table 3b: the heatmap detector with 3 conv layers (the default has 5).
_base_ = '../drn_tiny_synthetic.py'
model = dict(scm=dict(detector=dict(num_convs=3, num_pools=2)))
