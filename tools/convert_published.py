"""Turn an attention paper's published ImageNet weights into a release of our model.

    python tools/convert_published.py TAG AUTHORS_FILE OUT_DIR [--config CFG] [--overwrite]
    python tools/convert_published.py --list

TAG is a timm pretrained tag of this package (``resnet50_cbam.jongchan_in1k``; ``--list``
shows them with where the authors publish each file). AUTHORS_FILE is their file as
downloaded (a training pickle read with torch.load(weights_only=True)). OUT_DIR receives the
mmpretrain checkpoint (sha256 in its name) with its config, the timm folder and a metafile
whose results are the authors' reported top-1 (not measured here). The config defaults to
configs/published/<model>_<source>_in1k.py; the weights are checked key by key against the
tag's architecture and both frameworks' logits compared before anything is written. OUT_DIR
is written as tools/publish_model.py writes a release (convattn_plugin.release.published):
a link or a file is refused before any work, the release is staged beside it, loaded back and
moved into place whole; an existing release is replaced only with --overwrite.
"""
import argparse
import sys


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('tag', nargs='?', help='e.g. resnet50_cbam.jongchan_in1k')
    parser.add_argument('authors_file', nargs='?', help="the authors' file as downloaded")
    parser.add_argument('out_dir', nargs='?', help='the release folder')
    parser.add_argument('--config', help='mmpretrain config (default: configs/published/<name>.py)')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing release in OUT_DIR')
    parser.add_argument('--date', help='YYYYMMDD in the checkpoint name (default today)')
    parser.add_argument('--list', action='store_true', help='list the tags and where the authors publish them')
    args = parser.parse_args()
    if not args.list and not (args.tag and args.authors_file and args.out_dir):
        parser.error('TAG, AUTHORS_FILE and OUT_DIR are required (or --list)')
    return args


def main() -> int:
    args = parse_args()  # --help answers before the heavy imports
    from convattn_plugin.models.published_weights import PUBLISHED

    if args.list:
        for name, entry in sorted(PUBLISHED.items()):
            print(f'{name}\n    {entry.file_name} from {entry.download_url}\n    {entry.reported}')
        return 0
    from convattn_plugin.release.published import convert_published

    try:
        release = convert_published(args.tag, args.authors_file, args.out_dir, config=args.config,
                                    overwrite=args.overwrite, date=args.date)
    except (ValueError, OSError) as e:  # the library's errors say what was wrong and what is accepted
        print(f'convert_published.py: error: {e}', file=sys.stderr)
        return 1
    print(f'wrote {release.root}: {release.checkpoint.name}, {release.timm_dir.name}/, {release.metafile.name} '
          f'(reported {release.metrics or "no figures"}; max logit diff timm vs mmpretrain {release.max_abs_diff:.2g})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
