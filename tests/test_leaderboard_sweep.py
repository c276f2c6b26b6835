"""Leaderboard sweeps: seed-major order, atomic results, resume after a stop, skip finished runs.

A fake trainer stands in for mmengine (it returns a made-up top-1 at once), so these
tests check the bookkeeping only; tests/test_leaderboard_e2e.py trains for real.
"""
from __future__ import annotations

import json
import os

import pytest

from convattn_plugin.leaderboard.plan import (ResultFileError, RunSpec, plan_runs, read_result, result_path,
                                              write_result)
from convattn_plugin.leaderboard.sweep import run_leaderboard, run_sweep


class FakeTrainer:
    """Records its calls; raises ``KeyboardInterrupt`` on call number ``stop_at`` (1-based)."""

    def __init__(self, stop_at: int | None = None) -> None:
        self.calls: list[RunSpec] = []
        self.stop_at = stop_at

    def __call__(self, spec: RunSpec) -> dict:
        self.calls.append(spec)
        if self.stop_at is not None and len(self.calls) == self.stop_at:
            raise KeyboardInterrupt  # as a user's Ctrl-C in the middle of a run
        return dict(top1=90.0 + (len(spec.model) % 3) + spec.seed / 10)


def test_plan_is_seed_major_with_the_baseline_first():
    specs = plan_runs(['se', None, 'cbam', 'se'], [0, 1])
    assert [(s.model, s.seed) for s in specs] == [
        ('baseline', 0), ('se', 0), ('cbam', 0), ('baseline', 1), ('se', 1), ('cbam', 1)]
    with pytest.raises(ValueError, match='seeds is empty'):
        plan_runs(['se'], [])


def test_stopped_sweep_resumes_where_it_was(tmp_path):
    specs = plan_runs([None, 'se', 'cbam'], [0, 1])
    first = FakeTrainer(stop_at=4)  # finishes three runs, stopped in the fourth
    with pytest.raises(KeyboardInterrupt):
        run_sweep(specs, str(tmp_path), first, progress=False)
    finished = [s for s in specs if read_result(str(tmp_path), s) is not None]
    assert finished == specs[:3]
    assert not os.path.exists(result_path(str(tmp_path), specs[3]))  # the stopped run left no result

    second = FakeTrainer()
    results = run_sweep(specs, str(tmp_path), second, progress=False)
    assert second.calls == specs[3:]  # only the unfinished runs, in order
    assert [(r['model'], r['seed']) for r in results] == [(s.model, s.seed) for s in specs]

    third = FakeTrainer()
    again = run_sweep(specs, str(tmp_path), third, progress=False)
    assert third.calls == []  # everything finished: nothing trained
    assert again == results


def test_results_are_written_atomically_and_checked(tmp_path):
    spec = RunSpec('eca', 2)
    path = write_result(str(tmp_path), spec, dict(top1=93.25, wall_s=1.5))
    assert path == result_path(str(tmp_path), spec) and path.endswith(os.path.join('runs', 'eca', 'seed2.json'))
    assert sorted(os.listdir(os.path.dirname(path))) == ['seed2.json']  # no temporary file left
    record = json.loads(open(path).read())
    assert record == dict(top1=93.25, wall_s=1.5, model='eca', kind='eca', seed=2)
    assert read_result(str(tmp_path), RunSpec('eca', 3)) is None
    with pytest.raises(ValueError, match='has no top1'):
        write_result(str(tmp_path), spec, dict(acc=1.0))


def test_a_damaged_result_file_is_named(tmp_path):
    spec = RunSpec(None, 0)
    os.makedirs(os.path.dirname(result_path(str(tmp_path), spec)))
    with open(result_path(str(tmp_path), spec), 'w') as f:
        f.write('{"top1": 9')
    with pytest.raises(ValueError, match=r'baseline.seed0\.json is not valid JSON .*delete it'):
        run_sweep([spec], str(tmp_path), FakeTrainer(), progress=False)
    with open(result_path(str(tmp_path), spec), 'w') as f:
        json.dump(dict(model='se', seed=0, top1=1.0), f)
    with pytest.raises(ValueError, match='does not describe baseline seed 0'):
        read_result(str(tmp_path), spec)


@pytest.mark.parametrize('text, message', [
    ('{"model": "baseline", "seed": 0, "top1": NaN}', r'top1=nan; expected the top-1 accuracy in percent, a number '
                                                      r'from 0 to 100'),
    ('{"model": "baseline", "seed": 0, "top1": 150}', r'top1=150; expected .* from 0 to 100'),
    ('{"model": "baseline", "seed": 0, "top1": "abc"}', r"top1='abc'; expected"),
    ('{"model": "baseline", "seed": 0, "top1": true}', r'top1=True; expected'),
    ('{"model": "baseline", "seed": 0, "top1": 90, "wall_s": "abc"}', r"wall_s='abc'; expected a number of seconds"),
    ('{"model": "baseline", "seed": 0, "top1": 90, "cpu_s": -Infinity}', r'cpu_s=-inf; expected a number of seconds'),
    ('[1, 2]', r'holds a list, not a JSON object'),
])
def test_a_result_read_back_on_resume_is_checked_and_its_file_named(tmp_path, text, message):
    spec = RunSpec(None, 0)
    path = result_path(str(tmp_path), spec)
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as f:
        f.write(text)
    trainer = FakeTrainer()
    with pytest.raises(ResultFileError, match=r'result file .*baseline.seed0\.json: ' + message
                       if not message.startswith('holds') else r'baseline.seed0\.json ' + message):
        run_sweep([spec, RunSpec('se', 0)], str(tmp_path), trainer, progress=False)
    assert trainer.calls == []  # refused when read, before any run and before the table


def test_a_bad_result_is_not_written(tmp_path):
    spec = RunSpec('se', 1)
    with pytest.raises(ResultFileError, match=r'top1=nan; expected'):
        write_result(str(tmp_path), spec, dict(top1=float('nan')))
    assert not os.path.exists(result_path(str(tmp_path), spec))


def test_the_tool_names_a_bad_result_file_in_one_line(tmp_path):
    import subprocess
    import sys

    work = tmp_path / 'work'
    path = result_path(str(work), RunSpec(None, 0))
    os.makedirs(os.path.dirname(path))
    with open(path, 'w') as f:
        f.write('{"model": "baseline", "seed": 0, "top1": "abc"}')
    tool = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tools', 'leaderboard.py')
    done = subprocess.run([sys.executable, tool, '--data', 'digits', '--kinds', 'se', '--seeds', '1', '--work-dir',
                           str(work), '--no-cost', '--no-progress'], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"leaderboard: error: result file {path}: top1='abc'; expected the top-1 accuracy in percent, a number from "
        '0 to 100; delete it to redo the run']


def test_leaderboard_with_a_fake_trainer_writes_every_report(tmp_path):
    trainer = FakeTrainer()
    paths = run_leaderboard('digits', kinds=['se'], seeds=2, work_dir=str(tmp_path), trainer=trainer,
                            measure_cost=False, progress=False, command='python tools/leaderboard.py --kinds se')
    assert [(s.model, s.seed) for s in trainer.calls] == [('baseline', 0), ('se', 0), ('baseline', 1), ('se', 1)]
    assert sorted(paths) == ['csv', 'json', 'md']  # no plot without the latency measurement
    data = json.loads(open(paths['json']).read())
    assert [r['model'] for r in data['rows']] == ['baseline', 'se']
    assert len(data['runs']) == 4 and data['meta']['command'].endswith('--kinds se')
    assert 'python tools/leaderboard.py --kinds se' in open(paths['md']).read()


@pytest.mark.parametrize('kwargs, message', [
    (dict(data='mnist'), "data must be one of digits, fashion-mnist; got 'mnist'"),
    (dict(profile='tpu'), "profile must be one of cpu, gpu; got 'tpu'"),
    (dict(seeds=0), 'seeds must be a positive number of seeds, got 0'),
    (dict(kinds=['nope']), "unknown attention kind 'nope'"),
    (dict(jobs=0), 'jobs must be a positive number of processes, got 0'),
    (dict(data_root='/tmp'), 'data_root does not apply to digits'),
])
def test_bad_arguments_are_named(tmp_path, kwargs, message):
    args = dict(data='digits', work_dir=str(tmp_path), trainer=FakeTrainer(), measure_cost=False, progress=False)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        run_leaderboard(**args)


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match='apt-get install dataset-fashion-mnist'):
        run_leaderboard('fashion-mnist', data_root=str(tmp_path), work_dir=str(tmp_path), trainer=FakeTrainer(),
                        progress=False)


def test_gpu_profile_builds_its_config_and_needs_cuda(tmp_path, monkeypatch):
    import torch

    from convattn_plugin.leaderboard.recipes import check_profile_device, run_config

    cfg = run_config('fashion-mnist', 'gpu', 'cbam', 1, str(tmp_path))
    assert cfg.model.backbone.stem == 'cifar' and cfg.model.backbone.attention == 'cbam'
    assert cfg.optim_wrapper.type == 'AmpOptimizerWrapper' and cfg.channels_last is True
    assert cfg.randomness.seed == 1
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(RuntimeError, match='profile gpu needs a CUDA GPU.*use --profile cpu'):
        check_profile_device('gpu')


@pytest.mark.parametrize('data', ['digits', 'fashion-mnist'])
@pytest.mark.parametrize('profile', ['cpu', 'gpu'])
def test_every_recipe_builds_a_ten_class_model_at_its_input_shape(tmp_path, data, profile, one_thread):
    import torch
    from mmpretrain.registry import MODELS

    import convattn_plugin.mm  # noqa: F401
    from convattn_plugin.leaderboard.recipes import run_config

    cfg = run_config(data, profile, 'eca', 0, str(tmp_path))
    assert cfg.val_dataloader is None and cfg.test_dataloader.dataset.split == 'test'
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, *cfg.input_shape), mode='tensor')
    assert tuple(logits.shape) == (2, 10)
