"""Convert a trained model between mmpretrain's layout and timm's, both ways.

    python tools/convert.py mm2timm CONFIG CHECKPOINT OUT_DIR   # -> config.json, model.safetensors, README.md
    python tools/convert.py timm2mm TIMM_DIR OUT_DIR [--name N] # -> N.json, N_<YYYYMMDD>-<sha8>.pth

OUT_DIR is written whole or not at all (staged beside it, then moved into place, as
tools/publish_model.py writes a release); a link, a file, or a folder with files in it
without --overwrite is refused before any work. N is a plain file name (no "/", no "..").
Every tensor is checked against the target architecture and the two models' logits are
compared (atol 1e-5) before anything is written. CHECKPOINT may be an http(s) URL (downloaded,
then loaded with weights_only=True; a hash in its name is verified). timm2mm writes the
mmpretrain config as JSON data from config.json's fields, which must be plain values with
identifier keys. That config is for inference only: the model and its preprocessing
(mmpretrain.get_model, ImageClassificationInferencer), no data loaders, evaluator or schedule,
so mmpretrain's tools/test.py cannot run it as it is. To evaluate, use the training config with
the converted .pth (tools/test.py CONFIG N_<date>-<sha8>.pth), or the timm folder with timm's
validate.py (python -m convattn_plugin.timm_scripts validate ...).
See convattn_plugin.release.key_mapping for the key map and what does not
convert (ResNet stem='cifar', plain VGG).
"""
import argparse
import sys


def cfg_options(parser: argparse.ArgumentParser, values) -> dict:
    """``--cfg-options`` parsed by mmengine's ``DictAction``, imported only now (``--help`` stays fast)."""
    from mmengine.config import DictAction

    namespace = argparse.Namespace()
    DictAction(option_strings=['--cfg-options'], dest='cfg_options')(parser, namespace, values or [])
    return namespace.cfg_options or None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='direction', required=True)
    to_timm = sub.add_parser('mm2timm', help='mmpretrain config + checkpoint -> timm folder')
    to_timm.add_argument('config')
    to_timm.add_argument('checkpoint', help='a training or published mmpretrain checkpoint (path or http(s) URL)')
    to_timm.add_argument('out_dir')
    to_timm.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE', help='config overrides')
    to_timm.add_argument('--no-ema', action='store_true', help='the raw weights of an EMA run')
    to_timm.add_argument('--input-size', nargs=2, type=int, metavar=('H', 'W'),
                         help='input size when the test pipeline gives none')
    to_timm.add_argument('--overwrite', action='store_true', help='replace an earlier conversion in OUT_DIR')
    to_mm = sub.add_parser('timm2mm', help='timm folder (config.json + model.safetensors) -> mmpretrain files')
    to_mm.add_argument('timm_dir')
    to_mm.add_argument('out_dir')
    to_mm.add_argument('--name', help='file stem, a plain name (default: the timm model name)')
    to_mm.add_argument('--overwrite', action='store_true', help='replace an earlier conversion in OUT_DIR')
    args = parser.parse_args()
    if args.direction == 'mm2timm':
        args.cfg_options = cfg_options(parser, args.cfg_options)
    return args


def main() -> None:
    args = parse_args()
    from convattn_plugin.release import ArchitectureMismatchError, convert_mm_to_timm, convert_timm_to_mm

    try:
        if args.direction == 'mm2timm':
            folder = convert_mm_to_timm(args.config, args.checkpoint, args.out_dir, cfg_options=args.cfg_options,
                                        use_ema=not args.no_ema,
                                        input_size=tuple(args.input_size) if args.input_size else None,
                                        overwrite=args.overwrite)
            print(f'timm folder: {folder}')
        else:
            config, checkpoint = convert_timm_to_mm(args.timm_dir, args.out_dir, args.name, overwrite=args.overwrite)
            print(f'mmpretrain config:     {config}\nmmpretrain checkpoint: {checkpoint}')
    except (ArchitectureMismatchError, ValueError, OSError) as e:
        sys.exit(f'convert.py: error: {e}')


if __name__ == '__main__':
    main()
