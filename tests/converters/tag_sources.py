"""Small files in the real formats of the image-level label importers,
written on the fly: images, OpenImages CSVs, class folders, COCO jsons."""
import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image
from conftest import load_cli  # noqa: F401  (the importer tests use it)


OI_HEADER = ['ImageID', 'Source', 'LabelName', 'Confidence']
# LabelName -> DisplayName as in OpenImages' class-descriptions.csv
OI_CLASSES = [('/m/01g317', 'Person'), ('/m/0898b', 'Zebra'),
              ('/m/03bk1', 'Giraffe'), ('/m/0k4j', 'Car'),
              ('/m/0cdn1', 'Bell pepper, red')]


def write_image(path, size=(32, 24), seed=0, fmt=None, orientation=None):
    """A small picture of ``size`` (width, height) with seeded pixels; an
    EXIF ``orientation`` tag when given (JPEG)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(pixels)
    kwargs = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs['exif'] = exif.tobytes()
    img.save(path, format=fmt, **kwargs)
    return path


def write_csv(path, rows, header=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        if header is not None:
            writer.writerow(header)
        writer.writerows(rows)
    return path


def write_class_descriptions(path, header=False, classes=OI_CLASSES):
    """v6 layout (no header) or v7 layout (``LabelName,DisplayName``)."""
    return write_csv(path, classes,
                     ['LabelName', 'DisplayName'] if header else None)


def write_oi_labels(path, rows):
    """``rows``: (ImageID, LabelName, Confidence[, Source])."""
    full = [(r[0], r[3] if len(r) > 3 else 'verification', r[1], r[2])
            for r in rows]
    return write_csv(path, full, OI_HEADER)


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def labels_by_name(coco, img, field):
    """The class names of one image's ``field`` (``image_labels`` or
    ``negative_labels``), sorted."""
    names = {c['id']: c['name'] for c in coco['categories']}
    return sorted(names[c] for c in img.get(field, []))


def by_file(coco):
    return {img['file_name']: img for img in coco['images']}
