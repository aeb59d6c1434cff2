# Ours+ whose base classes' refinement seeds are the recognition head's own
# top-scoring proposals (rec_scm_base_seeds off; the novel classes' stay the
# SCM's boxes): the Ours+ of 2fd8dd6. The SCM then learns from base heatmaps
# of parts and is applied to novel heatmaps of whole objects (README).
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(rec_scm_base_seeds=False)
