"""Bad input to the pretext tasks through the CLI: one clear line, exit code 2."""

from tests.conftest import ROOT, paperlab_in_process


def _fit(tmp_path, config, *overrides):
    return paperlab_in_process("fit", "--config", str(ROOT / "configs/trainer/smoke.yaml"), "--config",
                               str(ROOT / f"configs/{config}/demo.yaml"), "--data.init_args.train_size", "64",
                               "--data.init_args.val_size", "32", "--data.init_args.bank_size", "32", "--data.init_args.batch_size", "16", *overrides,
                               cwd=tmp_path)


def test_jigsaw_set_larger_than_the_possible_permutations_exits_2(tmp_path):
    code, _, stderr = _fit(tmp_path, "jigsaw", "--model.init_args.grid", "2", "--model.init_args.num_permutations", "25")
    assert code == 2 and "Traceback" not in stderr
    assert "model.init_args.num_permutations=25: a 2x2 jigsaw has only 24 permutations" in stderr


def test_colourisation_on_grey_data_exits_2(tmp_path):
    code, _, stderr = _fit(tmp_path, "colorization", "--data.init_args.gray_p", "1.0")
    assert code == 2 and "Traceback" not in stderr
    assert "colourisation needs colour images" in stderr and "ShapesWorld" in stderr
