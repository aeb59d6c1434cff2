"""A generated ("synthetic") detection data set for cross-supervised detection.

Every object is a *body* plus a small *part*. Bodies come in three kinds
(tall, wide, square) shared between classes, with shapes, colours and
patterns drawn from pools shared by all classes, so a body alone does not
tell its class. The class is given away by its part: a bottle's cap, a
person's head with dark hair on top, a horse's head and mane at the front,
a cart's wheels, and so on. A weakly supervised detector is therefore tempted
to box the part alone, which is what cross-supervised detection has to fix.

Scenes hold 2 to 6 objects on a textured gradient background with small
clutter shapes. Objects co-occur and touch: a person rides about half of the
horses (the rider's box overlaps the top of the horse's box) and a lamp often
stands next to a house.

The parts, one idea each: :mod:`.drawing` (primitives), :mod:`.parts` (the
class-distinctive parts), :mod:`.objects` (classes, bodies, one object on its
patch), :mod:`.background`, :mod:`.scene` (what an image holds and where),
:mod:`.dataset` (images, COCO jsons and proposals on disk; the entry of
``tools/dataset_converters/make_synthetic.py``), :mod:`.crops` (single-object
crops for backbone pretraining) and :mod:`.metrics` (proposal recall);
:mod:`.placement` places groups of objects for both scene families.

A second scene family, the yard scenes (:mod:`.yard_parts`,
:mod:`.yard_objects`, :mod:`.yard_scene`; ``make_synthetic.py --family
yard``), has other classes, shapes, backgrounds and configurations, for
checking a method on scenes it was not developed on.
"""
from .crops import make_crop, make_crop_batch
from .dataset import (DEFAULT_SS_MAX_SIDE, GENERATOR_VERSION, SPLITS,
                      generate_dataset, generate_split)
from .families import FAMILIES, SceneFamily, get_family
from .metrics import box_iou, proposal_recall
from .objects import BODY_KIND, CLASSES, render_object
from .scene import render_scene
from .yard_objects import YARD_CLASSES, render_yard_object
from .yard_scene import render_yard_scene

__all__ = [
    'CLASSES', 'YARD_CLASSES', 'FAMILIES', 'SceneFamily', 'get_family',
    'SPLITS', 'BODY_KIND',
    'GENERATOR_VERSION', 'render_yard_object', 'render_yard_scene',
    'DEFAULT_SS_MAX_SIDE', 'render_object', 'render_scene', 'generate_split',
    'generate_dataset', 'make_crop', 'make_crop_batch', 'box_iou',
    'proposal_recall'
]
