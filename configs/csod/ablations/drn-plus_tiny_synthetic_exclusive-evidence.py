# Ours+ whose SCM and pseudo boxes are made from recognition scores weighed
# against the image's other present classes (DRN(exclusive_evidence=True),
# DRNEvidenceMixin.exclusive_scores; experiment, beyond the paper): a region
# is one object, so where another class of the image scores a proposal
# higher, that proposal is weak evidence of this class (s^2 / the highest
# present class's score). On the yard scenes the riding bird's refined top
# box held the dog under it in 55 % of its misses, and the cup's SCM box was
# too large in 19 % (README, "Where the yard chain starts to lose"); the base
# heatmaps the SCM learns from are weighed the same way.
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(exclusive_evidence=True)
