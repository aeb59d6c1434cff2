# The recognition head with PCL's proposal clusters (any WSOD head plugs in).
_base_ = '../drn_tiny_synthetic.py'
model = dict(
    rec_head=dict(
        bbox_head=dict(
            refine_targets=dict(_delete_=True, type='PCLTargets'))))
