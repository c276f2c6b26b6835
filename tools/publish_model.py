"""Publish an mmpretrain training run for timm, transformers and mmpretrain users.

    python tools/publish_model.py CONFIG CHECKPOINT OUT_DIR [--overwrite] [--repo-id user/name [--push]]

writes OUT_DIR/<name>_<YYYYMMDD>-<sha8>.pth (state_dict + meta, weights_only-loadable),
OUT_DIR/<name>.json (the config as data), OUT_DIR/metafile.yml, OUT_DIR/manifest.json (sha256 of
every file) and OUT_DIR/timm/ (config.json, model.safetensors, README.md: the Hugging Face Hub
repository). The release is built in a temporary folder beside OUT_DIR, loaded back in both
frameworks (logits compared) and only then moved into place; an existing OUT_DIR is replaced
only with --overwrite. CHECKPOINT may be an http(s) URL (downloaded, then loaded with
weights_only=True). See convattn_plugin.release.publish.
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
    parser.add_argument('config', help='the training config')
    parser.add_argument('checkpoint', help='the mmengine training checkpoint (e.g. work_dirs/<config>/epoch_5.pth: the last epoch of the digits configs)')
    parser.add_argument('out_dir', help='the release folder (written whole, or not at all)')
    parser.add_argument('--name', help="model name and file stem (default: the config's stem)")
    parser.add_argument('--overwrite', action='store_true', help='replace an existing release in OUT_DIR')
    parser.add_argument('--work-dir', help="where the run logged its metrics (default: the checkpoint's folder)")
    parser.add_argument('--dataset', help='training data set name for the card (default: from the config)')
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE', help='config overrides, as for training')
    parser.add_argument('--no-ema', action='store_true', help='publish the raw weights of an EMA run')
    parser.add_argument('--input-size', nargs=2, type=int, metavar=('H', 'W'),
                        help='input size when the test pipeline gives none')
    parser.add_argument('--repo-id', help='Hugging Face Hub repository, user/name (for the card and --push)')
    parser.add_argument('--push', action='store_true', help='upload the timm folder to the Hugging Face Hub')
    parser.add_argument('--private', action='store_true', help='create the Hub repository private')
    parser.add_argument('--no-verify', action='store_true', help='skip loading the release back before moving it')
    args = parser.parse_args()
    args.cfg_options = cfg_options(parser, args.cfg_options)
    return args


def main() -> None:
    args = parse_args()
    from convattn_plugin.release import ArchitectureMismatchError, PublishError, publish

    try:
        release = publish(args.checkpoint, args.config, args.out_dir, name=args.name, work_dir=args.work_dir,
                          dataset=args.dataset, cfg_options=args.cfg_options, use_ema=not args.no_ema,
                          input_size=tuple(args.input_size) if args.input_size else None, repo_id=args.repo_id,
                          push=args.push, private=args.private, overwrite=args.overwrite,
                          verify=not args.no_verify)
    except (ArchitectureMismatchError, PublishError, ValueError, OSError) as e:
        sys.exit(f'publish_model.py: error: {e}')
    print(f'mmpretrain checkpoint: {release.checkpoint}')
    print(f'mmpretrain config:     {release.config}')
    print(f'metafile:              {release.metafile}')
    print(f'timm / Hub folder:     {release.timm_dir}')
    print(f'metrics:               {release.metrics or "none found"}'
          + (f' ({release.metrics_source})' if release.metrics_source else ''))
    if release.verified:
        print('verified before it was moved into place, max |logit diff| vs timm local-dir: '
              + ', '.join(f'{k} {v:.1e}' for k, v in release.verified.items()))
    if release.hub_url:
        print(f'pushed:                {release.hub_url}')


if __name__ == '__main__':
    main()
