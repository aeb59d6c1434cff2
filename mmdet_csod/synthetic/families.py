"""The scene families of the generator: what each draws with.

``default`` is the project's (the README's benchmarks, :mod:`.scene`);
``yard`` (:mod:`.yard_scene`) is a second one with other classes, shapes,
backgrounds and configurations, for checking a method on scenes it was not
developed on. A family gives its classes, its scene renderer
(``render_scene(seed, split_index, image_index, cart_loads)``), its object
renderer (``render_object(rng, cls, size)``, for backbone-pretraining crops)
and its background (``background(rng, h, w)``).
"""
from collections import namedtuple

from .background import _background
from .objects import CLASSES, render_object
from .scene import render_scene
from .yard_objects import YARD_CLASSES, render_yard_object
from .yard_scene import _yard_background, render_yard_scene

SceneFamily = namedtuple('SceneFamily',
                         'classes render_scene render_object background')

FAMILIES = dict(
    default=SceneFamily(CLASSES, render_scene, render_object, _background),
    yard=SceneFamily(YARD_CLASSES, render_yard_scene, render_yard_object,
                     _yard_background))


def get_family(name: str) -> SceneFamily:
    """The family called ``name``; a clear error for another name."""
    if name not in FAMILIES:
        raise ValueError(
            f'family must be one of {sorted(FAMILIES)}, got {name!r}')
    return FAMILIES[name]
