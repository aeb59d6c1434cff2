# The README's tutorial "Add a class from tagged images": Ours (the DRN with
# the SCM, ./drn_tiny_synthetic.py) trained on a real user's kind of
# sources, merged into one json: boxes of the five base classes (a COCO
# json), and two novel classes known from tags only (a folder of tagged
# images, an OpenImages-style label CSV). The sources are made from the
# generated data by tools/dataset_converters/export_synthetic_sources.py,
# merged by merge_coco.py into data/tagged_sources/annotations/train.json
# (file names relative to the data root, so data_prefix img=''), with
# Selective Search proposals from selective_search.py --max-side 192 (the
# generated data's proposal_cfg, which the test pipeline uses on new images).
# Evaluation: the generated val set, whose boxes of the other three classes
# (lamp, fish, tree) are skipped as outside the configured classes.
_base_ = './drn_tiny_synthetic.py'

# the class split, declared once: the datasets and the model take it from
# here (ClassSplitCheckHook checks they agree)
classes = ('cart', 'bottle', 'sign', 'house', 'kite', 'person', 'horse')
metainfo = dict(
    classes=classes, base_classes=classes[:5], novel_classes=classes[5:])
num_classes = len(classes)

model = dict(
    class_split=metainfo,
    rec_head=dict(bbox_head=dict(num_classes=num_classes)),
    roi_head=dict(bbox_head=dict(num_classes=num_classes)))

train_dataloader = dict(
    dataset=dict(
        data_root='data/tagged_sources/',
        metainfo=metainfo,
        ann_file='annotations/train.json',
        data_prefix=dict(img=''),
        proposal_file='proposals/ss_train.npz',
        # the tag sources are partial: a class neither tagged nor verified
        # absent in an image (e.g. a novel class in a box-source image) is
        # unknown there, not a negative (merge_coco.py also writes
        # "unlabeled": "ignore" on such images)
        unlabeled='ignore'))
val_dataloader = dict(dataset=dict(metainfo=metainfo))
test_dataloader = val_dataloader
