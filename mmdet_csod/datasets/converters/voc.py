"""PASCAL VOC XML annotations -> one COCO-style json.

Layout read (``root`` is the ``VOCdevkit`` folder)::

    {root}/VOC{year}/ImageSets/Main/{set}.txt    one image id per line
    {root}/VOC{year}/Annotations/{id}.xml        size + objects
    {root}/VOC{year}/JPEGImages/{id}.jpg         the image (not opened)

What the json holds:

* ``images``: ``file_name`` = ``VOC{year}/JPEGImages/{id}.jpg``, relative to
  the VOCdevkit root, so a config uses ``data_root=<VOCdevkit>/`` and
  ``data_prefix=dict(img='')``; ``height``/``width`` from the XML ``size``.
  Image ``id`` (``id_mode='name'``, the default): the VOC id with the
  underscore removed read as an int, e.g. ``'000005'`` -> ``5`` and
  ``'2008_000008'`` -> ``2008000008``. Ids of VOC2007 have 6 digits and those
  of VOC2012 start with the year 2008..2012, so 2007 and 2012 never collide;
  these are the ids of Detectron's VOC json files, which the ``indexes`` of
  pcl.pytorch proposal pickles refer to. ``id_mode='index'`` numbers images
  1..N in the order listed instead (for VOC-style data whose ids are not
  numeric). Ids are checked to be unique either way.
* ``categories``: :data:`VOC_CLASSES` in the standard order, ids 1..20.
* ``annotations``: ``bbox = [xmin, ymin, xmax - xmin, ymax - ymin]`` with the
  XML numbers taken as they are, so ``x, y, x + w, y + h`` are exactly the
  XML's ``xmin, ymin, xmax, ymax``; ``area = w * h``. Objects marked
  ``difficult`` are kept as ignored regions: ``iscrowd: 1`` (mmdet's
  ``CocoDataset`` turns that into ``ignore_flag=1`` and COCO evaluation
  ignores them) and ``difficult: 1``; the others have ``iscrowd: 0`` and
  ``difficult: 0``. Annotation ids are 1..M in image, then XML order.
"""
import json
import os
import os.path as osp
import re
import xml.etree.ElementTree as ET
from typing import Dict, List, Optional, Sequence, Tuple, Union

VOC_CLASSES = ('aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
               'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse',
               'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
               'tvmonitor')

ID_MODES = ('name', 'index')


def _child_number(node: ET.Element, tag: str, xml_path: str,
                  where: str) -> Union[int, float]:
    """The number in ``node/tag`` as written: an int when it is integral."""
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise ValueError(f'{xml_path}: {where} has no <{tag}> field')
    try:
        value = float(child.text.strip())
    except ValueError:
        raise ValueError(f'{xml_path}: <{tag}> of {where} is not a number: '
                         f'{child.text.strip()!r}') from None
    return int(value) if value.is_integer() else value


def parse_voc_xml(xml_path: str) -> Dict:
    """Read one VOC annotation file.

    Args:
        xml_path (str): ``Annotations/{id}.xml``.

    Returns:
        dict: ``width`` (int), ``height`` (int) and ``objects``, a list of
        dicts with ``name`` (str), ``bbox`` (``(xmin, ymin, xmax, ymax)`` as
        written in the file) and ``difficult`` (0 or 1; 0 when absent).

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: Malformed XML, or a missing/invalid size or box field;
            the message names the file.
    """
    if not osp.isfile(xml_path):
        raise FileNotFoundError(f'VOC annotation file not found: {xml_path}')
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError as e:
        raise ValueError(f'{xml_path}: malformed XML: {e}') from e
    size = root.find('size')
    if size is None:
        raise ValueError(f'{xml_path}: no <size> field (image width/height)')
    width = _child_number(size, 'width', xml_path, '<size>')
    height = _child_number(size, 'height', xml_path, '<size>')
    if not (isinstance(width, int) and isinstance(height, int) and width > 0
            and height > 0):
        raise ValueError(f'{xml_path}: invalid image size {width}x{height}')
    objects = []
    for k, obj in enumerate(root.findall('object')):
        name = obj.findtext('name', '').strip()
        if not name:
            raise ValueError(f'{xml_path}: object {k} has no <name> field')
        difficult = 0
        if obj.findtext('difficult', '').strip():
            difficult = _child_number(obj, 'difficult', xml_path,
                                      f'object {k} ({name})')
        bndbox = obj.find('bndbox')
        if bndbox is None:
            raise ValueError(f'{xml_path}: object {k} ({name}) has no '
                             '<bndbox>')
        where = f'<bndbox> of object {k} ({name})'
        bbox = tuple(
            _child_number(bndbox, tag, xml_path, where)
            for tag in ('xmin', 'ymin', 'xmax', 'ymax'))
        objects.append(
            dict(name=name, bbox=bbox, difficult=int(difficult > 0)))
    return dict(width=width, height=height, objects=objects)


def parse_image_set(spec: Union[str, Tuple[str, str]]) -> Tuple[str, str]:
    """``'2007/trainval'`` (also ``'VOC2007/trainval'`` or a tuple) ->
    ``(year, set)``."""
    if isinstance(spec, (tuple, list)):
        year, name = spec
    else:
        match = re.fullmatch(r'(?:VOC)?(\d{4})[/:](\S+)', str(spec).strip())
        if match is None:
            raise ValueError(f'image set {spec!r}: expected YEAR/SET, e.g. '
                             '2007/trainval')
        year, name = match.groups()
    return str(year), str(name)


def read_image_set(devkit_root: str, year: str, name: str) -> List[str]:
    """Image ids listed in ``VOC{year}/ImageSets/Main/{name}.txt``.

    Only the first column is used, so ``{class}_{set}.txt`` files work too.
    """
    path = osp.join(devkit_root, f'VOC{year}', 'ImageSets', 'Main',
                    f'{name}.txt')
    if not osp.isfile(path):
        raise FileNotFoundError(f'VOC image set file not found: {path}')
    with open(path) as f:
        return [line.split()[0] for line in f if line.strip()]


def _image_id(img_id: str, index: int, id_mode: str, set_file: str) -> int:
    if id_mode == 'index':
        return index
    digits = img_id.replace('_', '')
    if not digits.isdigit():
        raise ValueError(
            f'{set_file}: image id {img_id!r} is not numeric, so it cannot '
            "give the COCO image id (id_mode='name'); use id_mode='index' "
            '(--id-mode index) to number images 1..N')
    return int(digits)


def voc_to_coco(devkit_root: str,
                sets: Sequence[Union[str, Tuple[str, str]]],
                out_file: Optional[str] = None,
                id_mode: str = 'name',
                classes: Sequence[str] = VOC_CLASSES) -> Dict:
    """Convert VOC image sets into one COCO-style dict (and json file).

    Args:
        devkit_root (str): The ``VOCdevkit`` folder.
        sets (Sequence[str]): Image sets as ``'YEAR/SET'``, e.g.
            ``['2007/trainval', '2012/trainval']``.
        out_file (str, optional): Where to write the json; its folder is
            created.
        id_mode (str): ``'name'`` (image id from the VOC id, see the module
            docstring) or ``'index'`` (1..N in listed order).
        classes (Sequence[str]): Category names; ids are 1..len(classes).

    Returns:
        dict: ``images``, ``annotations``, ``categories`` (COCO layout).

    Raises:
        FileNotFoundError: A set file or a listed image's XML is missing.
        ValueError: Malformed XML, an unknown class, a missing size field,
            or an image listed twice; messages name the file.
    """
    if id_mode not in ID_MODES:
        raise ValueError(f'id_mode must be one of {ID_MODES}, got {id_mode!r}')
    if not sets:
        raise ValueError('no image sets given')
    cat_ids = {name: i + 1 for i, name in enumerate(classes)}
    images, annotations = [], []
    seen: Dict[int, str] = {}
    for spec in sets:
        year, name = parse_image_set(spec)
        set_file = osp.join(devkit_root, f'VOC{year}', 'ImageSets', 'Main',
                            f'{name}.txt')
        for img_id in read_image_set(devkit_root, year, name):
            xml_path = osp.join(devkit_root, f'VOC{year}', 'Annotations',
                                f'{img_id}.xml')
            if not osp.isfile(xml_path):
                raise FileNotFoundError(
                    f'{set_file} lists image {img_id!r} but its annotation '
                    f'file is missing: {xml_path}')
            info = parse_voc_xml(xml_path)
            file_name = f'VOC{year}/JPEGImages/{img_id}.jpg'
            coco_id = _image_id(img_id, len(images) + 1, id_mode, set_file)
            if coco_id in seen:
                raise ValueError(
                    f'{set_file}: image {file_name} gets image id {coco_id}, '
                    f'already used by {seen[coco_id]} (an image listed twice, '
                    'or overlapping sets?)')
            seen[coco_id] = file_name
            images.append(
                dict(
                    id=coco_id,
                    file_name=file_name,
                    height=info['height'],
                    width=info['width']))
            for obj in info['objects']:
                if obj['name'] not in cat_ids:
                    raise ValueError(
                        f'{xml_path}: unknown class {obj["name"]!r} (known: '
                        f'{", ".join(classes)})')
                x1, y1, x2, y2 = obj['bbox']
                w, h = x2 - x1, y2 - y1
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=coco_id,
                        category_id=cat_ids[obj['name']],
                        bbox=[x1, y1, w, h],
                        area=w * h,
                        iscrowd=obj['difficult'],
                        difficult=obj['difficult']))
    coco = dict(
        info=dict(description='PASCAL VOC ' +
                  ' + '.join('/'.join(parse_image_set(s)) for s in sets) +
                  ' converted by mmdet_csod.datasets.converters.voc'),
        images=images,
        annotations=annotations,
        categories=[
            dict(id=i, name=n, supercategory='none')
            for n, i in cat_ids.items()
        ])
    if out_file is not None:
        folder = osp.dirname(osp.abspath(out_file))
        os.makedirs(folder, exist_ok=True)
        tmp = out_file + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(coco, f)
        os.replace(tmp, out_file)
    return coco
