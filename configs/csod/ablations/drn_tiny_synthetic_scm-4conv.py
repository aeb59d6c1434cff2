# Table 3b: the heatmap detector with 4 conv layers (the default has 5).
_base_ = '../drn_tiny_synthetic.py'
model = dict(scm=dict(detector=dict(num_convs=4, num_pools=2)))
