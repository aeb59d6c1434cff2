# Ours+ with an objectness head (experiment, measured and dropped): a
# class-agnostic score of whole objects learnt from the base boxes on the
# shared fc features (ObjectnessHead: positives at the base boxes,
# negatives only in images without a novel class and on parts of base
# objects), and the recognition scores that the SCM and the pseudo boxes
# are made from weighed by it, base and novel queries alike (the knowledge
# transfer of Uijlings et al. 2018 / Zhong et al. 2020). On the yard scenes
# (2 seeds; README "Where the yard boxes land") novel mAP50 fell to
# 6.8 / 4.0 (Ours+ of 2fd8dd6: 18.8 / 26.4 on the same seeds): learnt from
# five base classes, the objectness is high on base objects and low on the
# novel ones, and the weighed scores moved the novel boxes onto base
# objects.
_base_ = '../drn-plus_tiny_synthetic.py'
model = dict(objectness_head=dict(type='ObjectnessHead', in_channels=512))
