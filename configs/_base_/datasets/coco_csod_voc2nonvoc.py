# COCO split voc -> non-voc (section 5.2 of the paper, after Hu et al. 2018):
# the 20 VOC classes are base.
_base_ = './coco_csod.py'

voc_classes = ('airplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'dining table', 'dog', 'horse',
               'motorcycle', 'person', 'potted plant', 'sheep', 'couch',
               'train', 'tv')
split = dict(base_classes=voc_classes)
train_dataloader = dict(dataset=dict(metainfo=split))
val_dataloader = dict(dataset=dict(metainfo=split))
test_dataloader = dict(dataset=dict(metainfo=split))
