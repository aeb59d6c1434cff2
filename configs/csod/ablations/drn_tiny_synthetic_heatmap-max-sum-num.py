# Table 3a: SCM heatmap channels max + sum + num (the default is max + sum).
_base_ = '../drn_tiny_synthetic.py'
model = dict(scm=dict(inputs=dict(modes=('max', 'sum', 'num'))))
