"""Publish an mmpretrain training run for timm and mmpretrain users.

    python tools/publish_model.py CONFIG CHECKPOINT OUT_DIR [--repo-id user/name [--push]]

writes OUT_DIR/<name>_<YYYYMMDD>-<sha8>.pth (state_dict + meta, weights_only-loadable),
OUT_DIR/<name>.py, OUT_DIR/metafile.yml and OUT_DIR/timm/ (config.json, model.safetensors,
README.md: what timm's push_to_hf_hub uploads), then loads them back in both frameworks
and compares the logits. See convattn_plugin.release.publish.
"""
import argparse
import sys

from mmengine.config import DictAction

from convattn_plugin.checkpoint import HashMismatchError
from convattn_plugin.release import ConversionError, PublishError, publish, verify_release


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='the training config')
    parser.add_argument('checkpoint', help='the mmengine training checkpoint (e.g. work_dirs/<name>/epoch_4.pth)')
    parser.add_argument('out_dir', help='the release folder (created)')
    parser.add_argument('--name', help="model name and file stem (default: the config's stem)")
    parser.add_argument('--work-dir', help="where the run logged its metrics (default: the checkpoint's folder)")
    parser.add_argument('--dataset', help='training data set name for the card (default: from the config)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides, as for training')
    parser.add_argument('--no-ema', action='store_true', help='publish the raw weights of an EMA run')
    parser.add_argument('--input-size', nargs=2, type=int, metavar=('H', 'W'),
                        help='input size when the test pipeline gives none')
    parser.add_argument('--repo-id', help='Hugging Face Hub repository, user/name (for the card and --push)')
    parser.add_argument('--push', action='store_true', help="upload the timm folder with timm's push_to_hf_hub")
    parser.add_argument('--private', action='store_true', help='create the Hub repository private')
    parser.add_argument('--no-verify', action='store_true', help='skip loading the written release back')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        release = publish(args.checkpoint, args.config, args.out_dir, name=args.name, work_dir=args.work_dir,
                          dataset=args.dataset, cfg_options=args.cfg_options, use_ema=not args.no_ema,
                          input_size=tuple(args.input_size) if args.input_size else None, repo_id=args.repo_id,
                          push=args.push, private=args.private)
    except (ConversionError, HashMismatchError, PublishError, ValueError, FileNotFoundError) as e:
        sys.exit(f'publish_model.py: error: {e}')
    print(f'mmpretrain checkpoint: {release.checkpoint}')
    print(f'mmpretrain config:     {release.config}')
    print(f'metafile:              {release.metafile}')
    print(f'timm / Hub folder:     {release.timm_dir}')
    print(f'metrics:               {release.metrics or "none found"}'
          + (f' ({release.metrics_source})' if release.metrics_source else ''))
    if release.hub_url:
        print(f'pushed:                {release.hub_url}')
    if not args.no_verify:
        diffs = verify_release(release.root)
        print('verified, max |logit diff| vs timm local-dir: '
              + ', '.join(f'{k} {v:.1e}' for k, v in diffs.items()))


if __name__ == '__main__':
    main()
