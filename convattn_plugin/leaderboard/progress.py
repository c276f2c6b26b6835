"""Progress bars of a sweep: one over the runs (with the sweep's time left), one over the
iterations of the running training (with its epoch and time left)."""
from __future__ import annotations

from typing import Optional

from mmengine.hooks import Hook

__all__ = ['TrainProgressHook', 'runs_bar']


def runs_bar(total: int, done: int, enabled: bool = True):
    """A tqdm bar over a sweep's runs, starting at the ``done`` ones already finished.

    Its rate (and so the time left) counts only the runs made in this session.
    """
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc='runs', unit='run', disable=not enabled, dynamic_ncols=True,
                position=0)


class TrainProgressHook(Hook):
    """A tqdm bar over every training iteration of one run; its label names the epoch.

    Args:
        label: What the bar says before the epoch (the model and the seed).
        enabled: ``False`` draws nothing.
    """

    priority = 'LOWEST'

    def __init__(self, label: str = 'train', enabled: bool = True) -> None:
        self.label = label
        self.enabled = enabled
        self._bar: Optional[object] = None

    def before_train(self, runner) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=runner.max_iters, initial=runner.iter, desc=self.label, unit='it', leave=False,
                         disable=not self.enabled, dynamic_ncols=True, position=1)

    def before_train_epoch(self, runner) -> None:
        if self._bar is not None:
            self._bar.set_description(f'{self.label} epoch {runner.epoch + 1}/{runner.max_epochs}')

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self._bar is not None:
            self._bar.update(1)

    def after_train(self, runner) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
