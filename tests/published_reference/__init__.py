"""Reference models written from reading the authors' code: their parameter names, their forward.

Used to prove, without their files, that our tags load what they published: build one of
these with random weights, save it the way the authors did (:func:`.saving.save_like_authors`),
load it through ``timm.create_model(tag, pretrained=True, ...)`` and compare logits.

The one deliberate difference from the authors' ResNets: global average pooling is adaptive,
where the CBAM / BAM / Triplet code has ``AvgPool2d(7)`` (the same at 224 px), so the
tests can run at 64 px.
"""
from .attention_modules import BAM, CBAM, EcaLayer, SimAM, TripletAttention
from .resnet_skeleton import ResNet, authors_resnet
from .saving import randomize_, save_like_authors

__all__ = ['BAM', 'CBAM', 'EcaLayer', 'ResNet', 'SimAM', 'TripletAttention', 'authors_resnet', 'randomize_',
           'save_like_authors']
