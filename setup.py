"""Build step that ships ``configs/`` inside the wheel as ``convattn_plugin/.mim/configs``.

mmpretrain's convention (its own wheel carries ``mmpretrain/.mim/configs``): the package
finds its configs next to its code after any install, so ``import convattn_plugin.mm``
registers them into mmpretrain's model hub. All other metadata is in ``pyproject.toml``.
The configs reach the sdist through ``MANIFEST.in``; an editable install reads the
checkout's ``configs/`` directly and copies nothing.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildPyWithConfigs(build_py):
    """``build_py`` that also copies ``configs/`` (text files only) into the package."""

    def run(self):
        super().run()
        if getattr(self, 'editable_mode', False):
            return
        src = HERE / 'configs'
        if not (src / 'model-index.yml').is_file():
            raise FileNotFoundError(f'{src}/model-index.yml is missing: the wheel would ship no configs')
        dst = Path(self.build_lib) / 'convattn_plugin' / '.mim' / 'configs'
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


setup(cmdclass={'build_py': BuildPyWithConfigs})
