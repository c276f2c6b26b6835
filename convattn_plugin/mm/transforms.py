"""``LoadImageUnlessGiven``: a test pipeline that serves data sets and image files alike.

Data sets that hold their pixels in memory (``SklearnDigits``) hand the pipeline an
``img`` array and need no loading step, while tools that start from an image file
(mmpretrain's ``visualization/vis_cam.py`` feeds ``{'img_path': ...}`` to the config's
test pipeline) need ``LoadImageFromFile``. This transform passes a given ``img`` through
and otherwise loads ``img_path`` exactly as mmcv's ``LoadImageFromFile`` does.
"""
from __future__ import annotations

from typing import Optional

from mmcv.transforms import BaseTransform, LoadImageFromFile
from mmpretrain.registry import TRANSFORMS

__all__ = ['LoadImageUnlessGiven']


@TRANSFORMS.register_module(force=True)
class LoadImageUnlessGiven(BaseTransform):
    """Keep ``results['img']`` if present, else load ``results['img_path']``.

    Args:
        **load_kwargs: Passed to mmcv's ``LoadImageFromFile`` (``color_type``,
            ``imdecode_backend``, ...).
    """

    def __init__(self, **load_kwargs) -> None:
        self.load = LoadImageFromFile(**load_kwargs)

    def transform(self, results: dict) -> Optional[dict]:
        img = results.get('img')
        if img is None:
            if 'img_path' not in results:
                raise KeyError("LoadImageUnlessGiven: the input has neither 'img' nor 'img_path'")
            return self.load(results)
        results.setdefault('img_shape', img.shape[:2])
        results.setdefault('ori_shape', img.shape[:2])
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.load!r})'
