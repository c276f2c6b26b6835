"""The model card of a release: its fields, and the ``README.md`` of the Hub folder made from them.

timm's Hub cards list the task, the data set, the model's statistics (parameters, GMACs,
image size), papers and usage; here also the metrics of the training run and how to load
the same weights in mmpretrain.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from .model_pair import ModelPair

__all__ = ['TASK', 'build_model_card', 'render_model_card', 'usage_text', 'name_of']

TASK = 'Image Classification'


def name_of(config_file: str) -> str:
    """The model name of a release config file (its stem)."""
    return config_file.rsplit('/', 1)[-1].rsplit('.', 1)[0]


def usage_text(pair: ModelPair, repo_id: Optional[str] = None, folder: str = '<this folder>',
               mm_config: Optional[str] = None, mm_checkpoint: Optional[str] = None) -> str:
    """Markdown: load the model in timm (Hub or local folder) and in mmpretrain."""
    name = pair.spec.model_name
    size = 'x'.join(str(s) for s in pair.data_config['input_size'][1:])
    hub = (f"model = timm.create_model('hf-hub:{repo_id}', pretrained=True)\n"
           f"# or from a download of this repository:\n# " if repo_id else '')
    # By name: config.json's model_args as keywords (timm's defaults left out), and num_classes
    # in the overlay too, or timm drops the classifier as one of another size.
    args = {k: v for k, v in pair.spec.model_args.items()
            if not (k == 'in_chans' and v == 3) and not (k == 'global_pool' and v == 'avg')}
    kwargs = ''.join(f', {k}={v!r}' for k, v in args.items())
    by_name = (f"# or by name, with the weights file:\n"
               f"# model = timm.create_model('{name}', pretrained=True{kwargs},\n"
               f"#     pretrained_cfg_overlay=dict(file='{folder}/model.safetensors', "
               f"num_classes={pair.spec.num_classes}))\n")
    timm_code = (
        "```python\n"
        "import timm\n"
        "import torch\n"
        "from PIL import Image\n\n"
        f"import convattn_plugin  # registers {name} into timm\n\n"
        f"{hub}model = timm.create_model('local-dir:{folder}', pretrained=True).eval()\n"
        f"{by_name}"
        "data_config = timm.data.resolve_model_data_config(model)\n"
        "transform = timm.data.create_transform(**data_config, is_training=False)\n"
        "img = Image.open('image.png').convert('RGB')\n"
        "with torch.no_grad():\n"
        "    probabilities = model(transform(img).unsqueeze(0)).softmax(-1)\n"
        "```\n")
    if mm_config and mm_checkpoint:
        mm_where = ('The release folder holds the mmpretrain config (`' + mm_config + '`, JSON data) and checkpoint '
                    '(`' + mm_checkpoint + '`, named with the first 8 hex digits of its sha256) next to this folder, '
                    'and `metafile.yml`, which registers them into mmpretrain\'s model hub (paths, hashes and the '
                    'config are checked; nothing from the release is executed):')
        mm_code = (
            "```python\n"
            "from mmpretrain import ImageClassificationInferencer, get_model\n\n"
            "from convattn_plugin.release import register_release  # also registers the backbones\n\n"
            "register_release('<release folder>/metafile.yml')\n"
            f"model = get_model('{name_of(mm_config)}', pretrained=True)\n"
            f"inferencer = ImageClassificationInferencer('{name_of(mm_config)}', pretrained=True)\n"
            "print(inferencer('image.png')[0]['pred_class'])\n"
            "```\n")
    else:
        mm_where = ('Convert this folder first: `python tools/convert.py timm2mm <this folder> <out dir>` '
                    '(convattn_plugin) writes the config (JSON) and checkpoint:')
        mm_code = (
            "```python\n"
            "from convattn_plugin.release import load_mm_release\n\n"
            "model = load_mm_release('<out dir>/<name>_<date>-<sha8>.pth', '<out dir>/<name>.json')\n"
            "```\n")
    hf_code = (
        "```python\n"
        f"import convattn_plugin  # registers {name} into timm; without it transformers says \"upgrade timm\"\n"
        "from transformers import AutoModelForImageClassification, pipeline\n\n"
        f"model = AutoModelForImageClassification.from_pretrained('{repo_id or folder}')\n"
        f"classifier = pipeline('image-classification', model='{repo_id or folder}')\n"
        "print(classifier('image.png'))\n"
        "```\n")
    return (f"Input: RGB images, {size} px (`pretrained_cfg` in `config.json` holds the preprocessing). "
            f"Needs `pip install convattn_plugin` and `import convattn_plugin` before loading.\n\n"
            f"### timm\n{timm_code}\n### transformers\n{hf_code}\n### mmpretrain\n{mm_where}\n\n{mm_code}")


def build_model_card(
        pair: ModelPair,
        dataset: Optional[str] = None,
        metrics: Optional[Mapping[str, float]] = None,
        metrics_source: Optional[str] = None,
        params: Optional[int] = None,
        macs: Optional[float] = None,
        flops: Optional[float] = None,
        repo_id: Optional[str] = None,
        mm_config: Optional[str] = None,
        mm_checkpoint: Optional[str] = None,
        trained_with: Optional[str] = None,
) -> dict[str, Any]:
    """timm model card fields of a release.

    Args:
        pair: The model in both frameworks.
        dataset: The training data set's name.
        metrics: ``{'Top 1 Accuracy': 97.5}`` (percent), from the run's logs.
        metrics_source: Where the metrics were read (a log file).
        params: Parameter count (default: the timm model's).
        macs: Multiply-adds of one image (timm's and mmpretrain's "FLOPs").
        flops: FLOPs of one image with attention's element-wise operators counted.
        repo_id: Hugging Face Hub repository (for the usage snippet).
        mm_config, mm_checkpoint: File names of the mmpretrain release.
        trained_with: The mmpretrain config's name.
    """
    params = params if params is not None else sum(p.numel() for p in pair.timm_model.parameters())
    _, h, w = pair.data_config['input_size']
    stats: dict[str, Any] = {'Params (M)': f'{params / 1e6:.2f}'}
    if macs is not None:
        stats['GMACs'] = f'{macs / 1e9:.3g}'
    if flops is not None:
        stats['GFLOPs (attention element-wise ops included)'] = f'{flops / 1e9:.3g}'
    stats['Image size'] = f'{h} x {w}'
    details: dict[str, Any] = {'Model Type': f'{TASK} / feature backbone', 'Model Stats': stats}
    if dataset:
        details['Dataset'] = dataset
    if metrics:
        details['Metrics'] = {k: f'{v:.2f}' for k, v in metrics.items()}
        if metrics_source:
            details['Metrics']['source'] = metrics_source
    papers = [p for p in (pair.timm_model.pretrained_cfg.get('paper_ids') or ())]
    if papers:
        details['Papers'] = [f'https://arxiv.org/abs/{p.split(":", 1)[-1]}' for p in papers]
    details['Original'] = ('mmpretrain' + (f', config `{trained_with}`' if trained_with else '')
                           + ' with convattn_plugin')
    labels = pair.label_names
    description = (f'`{pair.spec.model_name}`: a {pair.spec.family.upper() if pair.spec.family == "vgg" else "ResNet"} '
                   f'with convolutional attention (convattn_plugin), {pair.spec.num_classes} classes'
                   + (f' ({", ".join(labels[:10])}{", ..." if len(labels) > 10 else ""})' if labels else '')
                   + (f', trained on {dataset}' if dataset else '') + ' with mmpretrain. The same weights load '
                   'in timm and in mmpretrain and give the same logits.')
    return dict(
        tags=['image-classification', 'timm', 'mmpretrain', 'convattn_plugin'],
        license=pair.timm_model.pretrained_cfg.get('license', 'apache-2.0'),
        description=description,
        details=details,
        usage=usage_text(pair, repo_id, mm_config=mm_config, mm_checkpoint=mm_checkpoint),
    )


def _markdown_item(key: str, value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [f'- **{key}:**'] + [f'  - {k}: {v}' for k, v in value.items()]
    if isinstance(value, (list, tuple)):
        return [f'- **{key}:**'] + [f'  - {v}' for v in value]
    return [f'- **{key}:** {value}']


def render_model_card(card: Mapping[str, Any], title: str) -> str:
    """The ``README.md`` of the Hub folder: YAML front matter the Hub reads, then Markdown.

    The layout of timm's Hub cards (front matter with ``tags``, ``pipeline_tag``,
    ``library_name: timm``, ``license``, ``datasets``; "Model Details" and "Model Usage").
    """
    import yaml

    front: dict[str, Any] = {'tags': list(card.get('tags') or []), 'pipeline_tag': 'image-classification',
                             'library_name': 'timm', 'license': card.get('license', 'apache-2.0')}
    dataset = (card.get('details') or {}).get('Dataset')
    if dataset:
        front['datasets'] = [str(d).lower() for d in (dataset if isinstance(dataset, (list, tuple)) else [dataset])]
    lines = ['---', yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(), '---',
             f'# Model card for {title}']
    if card.get('description'):
        lines += ['', card['description']]
    if card.get('details'):
        lines += ['', '## Model Details']
        for key, value in card['details'].items():
            lines += _markdown_item(key, value)
    if card.get('usage'):
        lines += ['', '## Model Usage', card['usage']]
    return '\n'.join(lines) + '\n'
