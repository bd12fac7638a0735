from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from kinema.cli import app, parse_size
from kinema.io import read_video
from kinema.world.parse import parse_clip

runner = CliRunner()


def test_help_lists_the_tasks() -> None:
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("data", "world", "eval"):
        assert cmd in r.output


def test_parse_size() -> None:
    assert parse_size("64") == (64, 64)
    assert parse_size("96x64") == (64, 96)


def test_world_render_then_eval(tmp_path: Path) -> None:
    out = tmp_path / "clip.mp4"
    prompt = (
        "a small green triangle moving up and a large red square bouncing on a white background"
    )
    r = runner.invoke(
        app,
        [
            "world",
            "render",
            prompt,
            "-o",
            str(out),
            "--size",
            "96x64",
            "--scene",
            str(tmp_path / "s.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    v = read_video(out)
    assert (v.num_frames, v.height, v.width) == (17, 64, 96)
    assert {o.color for o in parse_clip(v.frames).objects} == {"green", "red"}
    assert json.loads((tmp_path / "s.json").read_text())["width"] == 96
    r = runner.invoke(
        app, ["eval", "fidelity", str(out), "--prompt", prompt, "--json", str(tmp_path / "r.json")]
    )
    assert r.exit_code == 0, r.output
    assert "100.0%" in r.output
    assert json.loads((tmp_path / "r.json").read_text())["summary"]["all"] == 1.0
    # a prompt the clip does not follow scores 0
    r = runner.invoke(
        app, ["eval", "fidelity", str(out), "--prompt", prompt.replace("moving up", "moving left")]
    )
    assert r.exit_code == 0 and "0.0%" in r.output


def test_data_synth_and_eval_dir(tmp_path: Path) -> None:
    r = runner.invoke(
        app,
        [
            "data",
            "synth",
            "--out",
            str(tmp_path / "ds"),
            "--count",
            "4",
            "--size",
            "32",
            "--frames",
            "9",
        ],
    )
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "ds" / "manifest.jsonl").read_text().splitlines()) == 4
    r = runner.invoke(app, ["eval", "fidelity", str(tmp_path / "ds")])
    assert r.exit_code == 0 and "100.0%" in r.output


def test_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    out = tmp_path / "c.mp4"
    out.write_bytes(b"keep me")
    r = runner.invoke(app, ["world", "render", "a red circle moving left on black", "-o", str(out)])
    assert r.exit_code == 2 and "already exists" in r.output and "Traceback" not in r.output
    assert out.read_bytes() == b"keep me"
    r = runner.invoke(
        app, ["world", "render", "a circle moving left on black", "-o", str(tmp_path / "d.mp4")]
    )
    assert r.exit_code == 2 and "no object colour" in r.output
    assert not (tmp_path / "d.mp4").exists()
    r = runner.invoke(
        app,
        [
            "world",
            "render",
            "a red circle moving left on black",
            "-o",
            str(tmp_path / "e.mp4"),
            "--size",
            "50",
        ],
    )
    assert r.exit_code == 2 and "multiple of 16" in r.output
    r = runner.invoke(app, ["eval", "fidelity", str(tmp_path / "missing.mp4"), "--prompt", "x"])
    assert r.exit_code == 2 and "missing.mp4: no such file" in r.output


def test_public_api_is_lazy_and_complete() -> None:
    import subprocess
    import sys

    code = "import sys, kinema; assert 'av' not in sys.modules and 'torch' not in sys.modules; print(len(kinema.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    import kinema

    assert int(out.stdout) == len(kinema.__all__)
    for name in kinema.__all__:
        assert getattr(kinema, name) is not None


def test_train_vae_export_and_roundtrip(tmp_path: Path) -> None:
    import yaml

    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "model": {"preset": "vae-tiny"},
                "train": {
                    "steps": 2,
                    "batch_size": 1,
                    "warmup": 1,
                    "bf16": False,
                    "eval_every": 2,
                    "ckpt_every": 2,
                },
                "data": {"buckets": [[5, 32, 32, 1.0]], "val_clips": 1},
            }
        )
    )
    run, weights = tmp_path / "run", tmp_path / "weights"
    args = ["train", "vae", "--config", str(recipe), "--out", str(run), "--export", str(weights)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert {p.name for p in weights.iterdir()} >= {
        "vae.safetensors",
        "vae_config.json",
        "vae_recipe.yaml",
        "vae_train_log.jsonl",
        "vae_command.txt",
    }
    assert "train vae --config" in (weights / "vae_command.txt").read_text()
    r = runner.invoke(app, args)  # the run folder is taken: refuse rather than mix two runs
    assert r.exit_code == 2 and "--resume" in r.output
    r = runner.invoke(
        app, [*args[:5], str(tmp_path / "run2"), "--init", str(weights), "--steps", "1"]
    )
    assert r.exit_code == 0, r.output  # a later session continues from shipped weights
    clip = tmp_path / "c.mp4"
    runner.invoke(
        app,
        ["world", "render", "a red circle moving left on black", "-o", str(clip), "--frames", "18"],
    )
    out = tmp_path / "rt.mp4"
    r = runner.invoke(
        app, ["vae", "roundtrip", str(clip), "-o", str(out), "--weights", str(weights)]
    )
    assert r.exit_code == 0, r.output
    assert (
        "using 17 frames" in r.output and "latent (4, 5, 8, 8)" in r.output and "PSNR" in r.output
    )
    assert read_video(out).num_frames == 17
    r = runner.invoke(
        app, ["vae", "roundtrip", str(clip), "-o", str(out), "--weights", str(weights)]
    )
    assert r.exit_code == 2 and "already exists" in r.output


def test_generate_writes_the_requested_video(tmp_path: Path, tiny_pipeline) -> None:
    weights = tiny_pipeline.save_pretrained(tmp_path / "w")
    out = tmp_path / "gen.mp4"
    args = ["generate", "a red circle bouncing", "-o", str(out), "--weights", str(weights)]
    r = runner.invoke(
        app, [*args, "--frames", "9", "--size", "48x32", "--seed", "5", "--steps", "2"]
    )
    assert r.exit_code == 0, r.output
    assert "seed 5" in r.output and "sampling" in r.output
    video = read_video(out)
    assert (video.num_frames, video.height, video.width, video.fps) == (9, 32, 48, 8.0)
    r = runner.invoke(app, [*args, "--seed", "5"])  # exists: refused, file untouched
    assert r.exit_code == 2 and "exists" in r.output
    assert read_video(out).num_frames == 9
    for bad, message in (
        (["--frames", "8"], "num_frames must be 1 + 4k"),
        (["--size", "50"], "multiple of 16"),
        (["--sampler", "ddim"], "sampler must be"),
    ):
        r = runner.invoke(app, [*args, "--force", *bad])
        assert r.exit_code == 2 and message in r.output, r.output
    r = runner.invoke(app, [*args, "--force", "--weights", str(tmp_path / "none")])
    assert r.exit_code == 2 and "no dit_config.json" in r.output


def test_edit_commands(tmp_path: Path, tiny_pipeline) -> None:
    from kinema.io import Video, write_video

    w = ["--weights", str(tiny_pipeline.save_pretrained(tmp_path / "w")), "--steps", "2"]
    src = tmp_path / "src.mp4"
    r = runner.invoke(app, ["world", "render", "a red circle moving left on black", "-o", str(src),
                            "--frames", "9", "--size", "32"])  # fmt: skip
    assert r.exit_code == 0, r.output
    still = tmp_path / "still"
    write_video(Video(read_video(src).frames[:1], 8.0), still)
    png = next(still.glob("*.png"))

    out = tmp_path / "anim.mp4"
    r = runner.invoke(
        app, ["animate", str(png), "a red circle", "-o", str(out), "--frames", "5", *w]
    )
    assert r.exit_code == 0, r.output
    assert read_video(out).num_frames == 5

    out = tmp_path / "ext.mp4"
    r = runner.invoke(app, ["extend", str(src), "-o", str(out), "--seconds", "1", *w])
    assert r.exit_code == 0, r.output
    assert read_video(out).num_frames == 17

    out = tmp_path / "fill.mp4"
    r = runner.invoke(app, ["fill", str(src), "--frames", "3-5", "-o", str(out), *w])
    assert r.exit_code == 0, r.output
    assert read_video(out).num_frames == 9
    r = runner.invoke(app, ["fill", str(src), "--frames", "7-12", "-o", str(out), "--force", *w])
    assert r.exit_code == 2 and "out of range: the video has frames 0..8" in r.output
    r = runner.invoke(app, ["fill", str(src), "--frames", "five", "-o", str(out), "--force", *w])
    assert r.exit_code == 2 and "--frames must look like" in r.output

    out = tmp_path / "interp.mp4"
    r = runner.invoke(app, ["interpolate", str(src), "-o", str(out), "--factor", "2", *w])
    assert r.exit_code == 0, r.output
    v = read_video(out)
    assert (v.num_frames, v.fps) == (17, 16.0)

    out = tmp_path / "long.mp4"
    r = runner.invoke(app, ["generate", "a blue star", "-o", str(out), "--seconds", "4",
                            "--size", "32", "--seed", "1", *w])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert read_video(out).num_frames == 33
    r = runner.invoke(app, ["generate", "x", "-o", str(out), "--seconds", "90", "--force", *w])
    assert r.exit_code == 2 and "--seconds must be in (0, 60]" in r.output


def test_bad_numbers_are_refused_before_the_model_loads(tmp_path: Path) -> None:
    """Each of these once loaded the model first, and some sampled a whole clip (or silently did
    something else: extend --seconds -5 added 4 frames, --fps 0 wrote 8 fps). The weights
    folder here does not exist, so a refusal that names the bad number came before loading."""
    src = tmp_path / "src.mp4"
    r = runner.invoke(app, ["world", "render", "a red circle moving left on black", "-o", str(src),
                            "--frames", "9", "--size", "32"])  # fmt: skip
    assert r.exit_code == 0, r.output
    out = str(tmp_path / "out.mp4")
    nowhere = ["--weights", str(tmp_path / "none"), "-o", out]
    for args, message in (
        (["extend", str(src), "--seconds", "-5"], "--seconds must be in (0, 60], got -5.0"),
        (["extend", str(src), "--seconds", "0"], "--seconds must be in (0, 60], got 0.0"),
        (["extend", str(src), "--seconds", "nan"], "--seconds must be in (0, 60], got nan"),
        (["extend", str(src), "--seconds", "inf"], "--seconds must be in (0, 60], got inf"),
        (
            ["generate", "x", "--seconds", "60", "--fps", "24"],
            "is 1441 frames; a video holds at most 481",
        ),
        (["generate", "x", "--fps", "0"], "fps must be a positive number, got 0.0"),
        (["generate", "x", "--fps", "-8"], "fps must be a positive number, got -8.0"),
        (["generate", "x", "--frames", "1001"], "num_frames 1001 is over 481"),
        (["generate", "x", "--guidance", "nan"], "guidance_scale must be in [0, 50], got nan"),
        (["interpolate", str(src), "--factor", "1"], "factor must be an integer >= 2, got 1"),
        (["interpolate", str(src), "--factor", "61"], "9 frames x 61 gives 489, over 481"),
        (["animate", str(src), "up", "--frames", "6"], "num_frames must be 1 + 4k"),
    ):
        r = runner.invoke(app, [*args, *nowhere])
        assert r.exit_code == 2 and message in r.output, (args, r.output)
        assert "Traceback" not in r.output and "dit_config" not in r.output, r.output
        assert not Path(out).exists()
    short = tmp_path / "short"  # 8 frames: fill needs 1 + 4k
    from kinema.io import Video, write_video

    write_video(Video(read_video(src).frames[:8], 8.0), short)
    r = runner.invoke(app, ["fill", str(short), "--frames", "2", *nowhere])
    assert r.exit_code == 2 and "trim it to 5 first" in r.output, r.output


def test_generate_refuses_harmful_prompts_and_warns_when_unsafe(
    tmp_path: Path, tiny_pipeline
) -> None:
    w = ["--weights", str(tiny_pipeline.save_pretrained(tmp_path / "w")), "--steps", "1"]
    out = tmp_path / "x.mp4"
    r = runner.invoke(app, ["generate", "kill all jews", "-o", str(out), *w])
    assert r.exit_code == 2 and "prompt refused: Hateful content (hate)" in r.output
    assert not out.exists()
    r = runner.invoke(
        app, ["generate", "a blue star", "-o", str(out), "--no-safety", "--frames", "1", *w]
    )
    assert r.exit_code == 0 and "safety checks are OFF" in r.output
    # harm named in a pasted negative field is kept out, not asked for, and the CLI says so
    pasted = "a blue star\nNegative prompt: gore, blood, suicide"
    r = runner.invoke(app, ["generate", pasted, "-o", str(out), "--force", "--frames", "1", *w])
    assert r.exit_code == 0, r.output
    assert "read as a negative prompt" in r.output and "gore, blood, suicide" in r.output
    body = '{"prompt": "a blue star", "num_frames": 33}'
    r = runner.invoke(app, ["generate", body, "-o", str(out), "--force", "--frames", "1", *w])
    assert r.exit_code == 0 and "read from the pasted request body" in r.output, r.output
    assert "1 frames" in r.output  # the body's frame count is not read: the options decide


def test_generated_files_are_watermarked_signed_and_verifiable(
    tmp_path: Path, tiny_pipeline
) -> None:
    from kinema.io import write_video

    w = ["--weights", str(tiny_pipeline.save_pretrained(tmp_path / "w")), "--steps", "1"]
    out = tmp_path / "gen.mp4"
    r = runner.invoke(app, ["generate", "a red circle", "-o", str(out), "--seed", "2", *w])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["verify", str(out), "--json"])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["c2pa"]["state"] == "trusted"  # the local CA made on first use is the anchor
    claims = report["c2pa"]["claims"]
    assert claims["actions"] == ["c2pa.created"] and claims["parameters"]["seed"] == 2
    assert claims["model_id"].startswith("kinema/w@") and "prompt" not in claims
    assert report["watermark"]["detected"]

    data = bytearray(out.read_bytes())
    data[data.find(b"mdat") + 100] ^= 0xFF
    bad = tmp_path / "tampered.mp4"
    bad.write_bytes(bytes(data))
    r = runner.invoke(app, ["verify", str(bad)])
    assert r.exit_code == 1 and "invalid" in r.output

    plain = write_video(read_video(out), tmp_path / "plain.mp4")  # re-encoded: credentials gone
    r = runner.invoke(app, ["verify", str(plain)])
    assert r.exit_code == 2 and "unsigned" in r.output and "watermark: found" in r.output

    r = runner.invoke(app, ["verify", str(tmp_path / "missing.mp4")])
    assert r.exit_code == 2 and "does not exist" in r.output

    tagged = tmp_path / "tagged.mp4"
    r = runner.invoke(app, ["generate", "a red circle", "-o", str(tagged), "--seed", "2",
                            "--visible-mark", "--sign-prompt", *w])  # fmt: skip
    assert r.exit_code == 0, r.output
    a, b = read_video(out).frames, read_video(tagged).frames
    assert np.abs(a[:, -8:, -12:].astype(int) - b[:, -8:, -12:]).mean() > 10  # the corner tag
    assert np.abs(a[:, :32, :32].astype(int) - b[:, :32, :32]).mean() < 1  # nothing else
    r = runner.invoke(app, ["verify", str(tagged), "--json"])
    assert json.loads(r.output)["c2pa"]["claims"]["prompt"] == "a red circle"


def signed_parameters(path: str | Path) -> dict:
    """The parameters the C2PA credentials of the file at ``path`` record (``kinema verify
    --json``)."""
    r = runner.invoke(app, ["verify", str(path), "--json"])
    return json.loads(r.output)["c2pa"]["claims"]["parameters"]


def test_generate_says_what_the_model_reads_and_records_it(tmp_path: Path, tiny_pipeline) -> None:
    import dataclasses

    from kinema.pipelines import Pipeline

    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder,
                    dataclasses.replace(tiny_pipeline.config, prompt_rewrite="shapes-world"))  # fmt: skip
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--steps", "1", "--frames", "1"]
    said = "a tiny blue box sliding to the left on grey"
    frames, claims = {}, {}
    for flag in ("--rewrite", "--as-written"):
        out = tmp_path / f"{flag[2:]}.mp4"
        r = runner.invoke(app, ["generate", said, "-o", str(out), "--seed", "4", flag, *w])
        assert r.exit_code == 0, r.output
        said_it = "the model reads: a small blue square moving left on a gray background"
        assert (said_it in " ".join(r.output.split())) is (flag == "--rewrite"), r.output
        frames[flag] = read_video(out).frames
        claims[flag] = signed_parameters(out)
    assert claims["--rewrite"]["prompt_rewritten"] is True
    assert claims["--as-written"]["prompt_rewritten"] is False
    assert not np.array_equal(frames["--rewrite"], frames["--as-written"])
    r = runner.invoke(app, ["generate", "a dog on a beach", "-o", str(tmp_path / "d.mp4"), *w])
    assert r.exit_code == 0 and "the model reads" not in r.output  # nothing it can rewrite
    long = ["generate", said, "-o", str(tmp_path / "l.mp4"), "--seconds", "3", "--size", "32"]
    r = runner.invoke(app, [*long, *w[:4]])  # its extension windows read the prompt as written
    assert r.exit_code == 0 and "the model reads for the first clip" in r.output, r.output


def made_with_each_flag(
    args: list[str], flags: tuple[str, ...], tmp_path: Path
) -> tuple[dict[str, str], dict[str, np.ndarray], dict[str, dict]]:
    """Runs the command ``args`` once with each flag (writing <flag>.mp4): per flag, what it
    printed (white space folded), the frames it wrote and the C2PA parameters it signed."""
    said, frames, params = {}, {}, {}
    for flag in flags:
        out = tmp_path / f"{flag[2:]}.mp4"
        r = runner.invoke(app, [*args, "-o", str(out), flag])
        assert r.exit_code == 0, r.output
        said[flag] = " ".join(r.output.split())
        frames[flag] = read_video(out).frames
        params[flag] = signed_parameters(out)
    return said, frames, params


def recorded_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The keyword arguments of every ``Pipeline`` call from here on, in order."""
    from kinema.pipelines import Pipeline

    asked: list[dict] = []
    call = Pipeline.__call__

    def recorded(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(kwargs)
        return call(self, *args, **kwargs)

    monkeypatch.setattr(Pipeline, "__call__", recorded)
    return asked


def test_generate_guards_a_clip_where_pipeline_json_says_so(
    tmp_path: Path, tiny_pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from kinema.pipelines import Pipeline

    asked = recorded_calls(monkeypatch)
    one = "a large red circle moving left on a black background"
    for clips in (False, True):  # the guarding weights last, for the unread prompt below
        config = dataclasses.replace(tiny_pipeline.config, guard="shapes-world-reading",
                                     guard_threshold=0.5, guard_tries=1, guard_clips=clips)  # fmt: skip
        pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config)
        w = ["--weights", str(pipe.save_pretrained(tmp_path / f"w{clips}")), "--steps", "1"]
        out = tmp_path / f"{clips}.mp4"
        r = runner.invoke(app, ["generate", one, "--frames", "5", "--size", "32", *w, "-o",
                                str(out)])  # fmt: skip
        assert r.exit_code == 0, r.output
        said = " ".join(r.output.split())
        told = "the shapes-world-reading guard reads each object's candidates" in said
        assert told is clips, r.output
        # guarded where pipeline.json's guard_clips says (else the pipeline's default), and
        # the clip says so
        assert asked[-1]["guarded"] is (True if clips else None)
        params = signed_parameters(out)
        assert params.get("guarded") == ("shapes-world-reading" if clips else None), params
    # a prompt the guard does not read, guard_clips on: nothing said, nothing recorded
    out = tmp_path / "unread.mp4"
    r = runner.invoke(app, ["generate", "a dog on a beach", "--frames", "5", "--size", "32", *w,
                            "-o", str(out)])  # fmt: skip
    assert r.exit_code == 0 and "guard reads" not in " ".join(r.output.split()), r.output
    assert "guarded" not in signed_parameters(out)


def test_generate_composes_several_objects_and_records_it(tmp_path: Path, tiny_pipeline) -> None:
    import dataclasses

    from kinema.pipelines import Pipeline

    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder,
                    dataclasses.replace(tiny_pipeline.config, prompt_rewrite="shapes-world",
                                        composer="shapes-world",
                                        compose_guidance_interval=(0.5, 1.0)))  # fmt: skip
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--steps", "1", "--size", "32"]
    two = "a small blue box heading left and a huge yellow wedge drifting up on white"
    said, frames, params = made_with_each_flag(
        ["generate", two, "--seed", "4", "--frames", "5", *w],
        ("--compose", "--one-pass", "--as-written"), tmp_path,
    )  # fmt: skip
    assert ("made one object at a time (shapes-world composer; --one-pass for one): a large "
            "yellow triangle moving up on a white background; a small blue square moving left "
            "on a white background") in said["--compose"]  # fmt: skip
    assert params["--compose"]["composed_of"] == 2
    # guided where the composed recipe says (compose_guidance_interval), in one pass every step
    assert params["--compose"]["guidance_interval"] == {"lo": 0.5, "hi": 1.0}
    assert params["--one-pass"]["guidance_interval"] == {"lo": 0.0, "hi": 1.0}
    assert "hide each other" not in said["--compose"]  # one clip per object: nothing to choose
    for flag in ("--one-pass", "--as-written"):  # the DiT reads the whole prompt in one pass
        assert "one object at a time" not in said[flag] and "composed_of" not in params[flag]
    assert not np.array_equal(frames["--compose"], frames["--one-pass"])
    # one object: nothing to compose; a long video composes its windows too
    r = runner.invoke(app, ["generate", "a red circle bouncing on black", "-o",
                            str(tmp_path / "one.mp4"), "--frames", "5", *w])  # fmt: skip
    assert r.exit_code == 0 and "one object at a time" not in r.output
    r = runner.invoke(app, ["generate", two, "-o", str(tmp_path / "l.mp4"), "--seconds", "3",
                            "--steps", "1", *w[:2], "--size", "32"])  # fmt: skip
    assert r.exit_code == 0, r.output
    # a long video's first clip makes its objects the one-object way: guided at every step
    long_params = signed_parameters(tmp_path / "l.mp4")
    assert long_params["composed_of"] == 2
    assert long_params["guidance_interval"] == {"lo": 0.0, "hi": 1.0}
    assert "made one object at a time, each object's windows continuing its own clip" in " ".join(
        r.output.split()
    )


def test_animate_composes_several_objects_and_records_it(tmp_path: Path, tiny_pipeline) -> None:
    import dataclasses

    from PIL import Image

    from kinema.pipelines import Pipeline
    from kinema.world.render import render
    from kinema.world.scene import SceneGraph, SceneObject

    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder,
                    dataclasses.replace(tiny_pipeline.config, composer="shapes-world"))  # fmt: skip
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--steps", "1", "--frames", "5",
         "--seed", "2"]  # fmt: skip
    objects = (SceneObject("yellow", "triangle", "large", "up", 12.0, 20.0),
               SceneObject("blue", "square", "small", "left", 24.0, 10.0))  # fmt: skip
    still = render(SceneGraph("white", objects, height=32, width=32, num_frames=1))[0]
    png = tmp_path / "still.png"
    Image.fromarray(still).save(png)
    two = "a small blue box heading left and a huge yellow wedge drifting up on white"
    said, frames, params = made_with_each_flag(["animate", str(png), two, *w],
                                               ("--compose", "--one-pass"), tmp_path)  # fmt: skip
    assert ("made one object at a time (shapes-world composer; --one-pass for one): a large "
            "yellow triangle moving up on a white background; a small blue square moving left "
            "on a white background") in said["--compose"]  # fmt: skip
    assert params["--compose"]["composed_of"] == 2 and params["--compose"]["mode"] == "animate"
    assert "one object at a time" not in said["--one-pass"]
    assert "composed_of" not in params["--one-pass"]
    assert not np.array_equal(frames["--compose"][1:], frames["--one-pass"][1:])


def test_generate_best_of_n_says_so_and_records_it(tmp_path: Path, tiny_pipeline) -> None:
    import dataclasses

    import torch

    from kinema.models.classifier import ClassifierConfig
    from kinema.pipelines import Pipeline
    from kinema.pipelines.verify import ShapesWorldVerifier
    from kinema.understand.recognize import SlotRecognizer

    torch.manual_seed(0)
    verifier = ShapesWorldVerifier(SlotRecognizer(ClassifierConfig(
        in_channels=1, channels=(8, 8, 8), heads={"slot": 12})))  # fmt: skip
    config = dataclasses.replace(tiny_pipeline.config, candidates=3, extend_candidates=2,
                                 verifier="shapes-world")  # fmt: skip
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    verifier=verifier)  # fmt: skip
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--steps", "1", "--frames", "5",
         "--size", "32", "--seed", "2"]  # fmt: skip
    said = "a large red circle moving left on a black background"
    claims = {}
    for extra in ([], ["--candidates", "1"], ["--candidates", "2"]):
        out = tmp_path / f"c{len(extra)}{extra[-1] if extra else ''}.mp4"
        r = runner.invoke(app, ["generate", said, "-o", str(out), *w, *extra])
        assert r.exit_code == 0, r.output
        n = int(extra[-1]) if extra else 3
        assert ("best of" in r.output) is (n > 1), r.output
        if n > 1:
            assert f"best of {n} clips, chosen by the shapes-world verifier" in r.output
            assert "verify" in r.output  # its time is reported
        claims[n] = signed_parameters(out)["candidates"]
    assert claims == {3: 3, 1: 1, 2: 2}
    r = runner.invoke(app, ["generate", "a dog on a beach", "-o", str(tmp_path / "d.mp4"), *w])
    assert r.exit_code == 0 and "best of" not in r.output  # a prompt it cannot read: one clip
    still = tmp_path / "still"
    from kinema.io import Video, write_video

    write_video(Video(read_video(tmp_path / "c0.mp4").frames[:1], 8.0), still)
    anim = tmp_path / "anim.mp4"
    r = runner.invoke(app, ["animate", str(next(still.glob("*.png"))), said, "-o", str(anim),
                            "--candidates", "2", *w[:4], "--frames", "5", "--seed", "1"])  # fmt: skip
    assert r.exit_code == 0 and "best of 2 clips, chosen by" in r.output, r.output
    assert signed_parameters(anim)["candidates"] == 2
    r = runner.invoke(app, ["generate", said, "-o", str(tmp_path / "e.mp4"), *w,
                            "--candidates", "0"])  # fmt: skip
    assert r.exit_code == 2 and "candidates must be 1..16, got 0" in r.output
    # extension windows (by the verifier, where it reads the prompt) and fill / interpolate (by
    # the completions' consensus) take --candidates too, and record it
    edits = {
        "extend": ["extend", str(anim), "--seconds", "0.5", "--prompt", said],
        "extend, no prompt": ["extend", str(anim), "--seconds", "0.5"],
        "fill": ["fill", str(anim), "--frames", "1-4"],
        "interpolate": ["interpolate", str(tmp_path / "c0.mp4"), "--factor", "2"],
    }
    said_by = {"extend": "best of 2 continuations per window, chosen by the shapes-world verifier",
               "extend, no prompt": None, "fill": "2 completions, keeping the one closest to "
               "the others", "interpolate": "2 completions, keeping"}  # fmt: skip
    for name, argv in edits.items():
        out = tmp_path / f"{name.replace(' ', '_').replace(',', '')}.mp4"
        r = runner.invoke(app, [*argv, "-o", str(out), *w[:4], "--candidates", "2"])
        assert r.exit_code == 0, (name, r.output)
        flat = " ".join(r.output.split())
        if said_by[name]:
            assert said_by[name] in flat, (name, flat)
        else:  # the verifier has no prompt to read: one continuation per window, said nothing
            assert "best of" not in flat, flat
        got = signed_parameters(out)["candidates"]
        assert got == (1 if said_by[name] is None else 2), name
    r = runner.invoke(app, ["extend", str(anim), "--seconds", "0.5", "--prompt", said,
                            "-o", str(tmp_path / "x.mp4"), *w[:4]])  # fmt: skip
    assert "best of 2 continuations per window" in " ".join(r.output.split())  # the config's
    # a long video: the first clip is the best of 3; its windows make one each unless asked
    long = ["generate", said, "--seconds", "3", *w[:4], "--size", "32", "--seed", "1"]
    for extra, per_window in (([], 1), (["--candidates", "2"], 2)):
        out = tmp_path / f"long{per_window}.mp4"
        r = runner.invoke(app, [*long, "-o", str(out), *extra])
        assert r.exit_code == 0, r.output
        flat = " ".join(r.output.split())
        assert ("continuations per window" in flat) is (per_window > 1), flat
        params = signed_parameters(out)
        assert (params["candidates"], params["window_candidates"]) == (3 if not extra else 2,
                                                                       per_window)  # fmt: skip
        assert params["window_planner"] == ""  # this model has no planner: the prompt held
        assert params["window_anchor"] == ""  # nor an identity anchor
        assert params["window_guard"] == ""  # nor a guard
    r = runner.invoke(app, ["fill", str(anim), "--frames", "1-4", "-o", str(tmp_path / "f.mp4"),
                            "--candidates", "17"])  # fmt: skip
    assert r.exit_code == 2 and "candidates must be 1..16, got 17" in r.output


def test_screened_best_of_n_says_so_and_records_its_drafts(tmp_path: Path, tiny_pipeline) -> None:
    import dataclasses

    import torch

    from kinema.models.classifier import ClassifierConfig
    from kinema.pipelines import Pipeline
    from kinema.pipelines.verify import ShapesWorldVerifier
    from kinema.understand.recognize import SlotRecognizer

    torch.manual_seed(0)
    verifier = ShapesWorldVerifier(SlotRecognizer(ClassifierConfig(
        in_channels=1, channels=(8, 8, 8), heads={"slot": 12})))  # fmt: skip
    config = dataclasses.replace(tiny_pipeline.config, candidates=2, screen_drafts=5,
                                 screen_step=1, verifier="shapes-world", window_screen_drafts=3,
                                 window_screen_step=2)  # fmt: skip
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    verifier=verifier)  # fmt: skip
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--frames", "5", "--size", "32",
         "--seed", "2"]  # fmt: skip
    said = "a large red circle moving left on a black background"
    # 4 steps: screened at step 1; 2 steps: no step after it to go on from; --candidates 1: one
    for extra, drafts in ((["--steps", "4"], 5), (["--steps", "2"], None),
                          (["--steps", "4", "--candidates", "1"], None)):  # fmt: skip
        out = tmp_path / f"s{len(extra)}{extra[1]}.mp4"
        r = runner.invoke(app, ["generate", said, "-o", str(out), *w, *extra])
        assert r.exit_code == 0, r.output
        flat = " ".join(r.output.split())
        assert ("the 2 of 5 drafts the verifier reads best at step 1 of 4, finished" in flat) is (
            drafts is not None
        ), flat
        params = signed_parameters(out)
        assert params.get("drafts") == drafts
        assert params["candidates"] == (1 if "--candidates" in extra else 2)
        assert "window_drafts" not in params  # one clip, no windows
    # a long video's windows: one continuation each, from 3 drafts read at their own step 2;
    # --candidates 3 asks for 3 finished per window, as many as the drafts: no screen
    long = ["generate", said, "--seconds", "3", *w, "--steps", "4"]
    for extra, drafts in (([], 3), (["--candidates", "3"], None)):
        out = tmp_path / f"long{len(extra)}.mp4"
        r = runner.invoke(app, [*long, "-o", str(out), *extra])
        assert r.exit_code == 0, r.output
        flat = " ".join(r.output.split())
        assert ("each window continues from the best of 3 drafts the shapes-world verifier "
                "reads at step 2 of 4, finished" in flat) is (drafts is not None), flat  # fmt: skip
        params = signed_parameters(out)
        assert params.get("window_drafts") == drafts
        assert params["window_candidates"] == (1 if drafts else 3)


def test_animate_samples_and_records_the_image_step_count(tmp_path: Path, tiny_pipeline) -> None:
    import dataclasses

    from PIL import Image

    from kinema.pipelines import Pipeline

    config = dataclasses.replace(tiny_pipeline.config, image_steps=2)  # steps = 3
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config)
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--frames", "5", "--seed", "1"]
    png = tmp_path / "still.png"
    Image.fromarray(np.full((32, 32, 3), 60, dtype=np.uint8)).save(png)
    said = "a red circle moving left on a black background"
    for argv, steps in (
        (["animate", str(png), said], 2),
        (["animate", str(png), said, "--steps", "1"], 1),
        (["generate", said, "--size", "32"], 3),
    ):
        out = tmp_path / f"{argv[0]}{len(argv)}.mp4"
        r = runner.invoke(app, [*argv, "-o", str(out), *w])
        assert r.exit_code == 0, r.output
        assert signed_parameters(out)["steps"] == steps, argv


def test_long_video_windows_sample_and_record_their_own_step_count_and_layout(
    tmp_path: Path, tiny_pipeline
) -> None:
    import dataclasses

    from kinema.io.video import read_video
    from kinema.models.vae import default_weights_dir
    from kinema.pipelines import Pipeline
    from kinema.pipelines.verify import ShapesWorldVerifier

    config = dataclasses.replace(tiny_pipeline.config, window_steps=2, verifier="shapes-world",
                                 extend_candidates=2, window_context=1, window_frames=8,
                                 window_guidance_interval=(0.5, 1.0), window_decode="window",
                                 text_guidance_interval=(0.4, 1.0))  # steps = 3; extend 5 + 12  # fmt: skip
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    verifier=ShapesWorldVerifier.from_pretrained(default_weights_dir()))  # fmt: skip
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--seed", "1"]
    said = "a red circle moving left on a black background"
    clip = tmp_path / "clip.mp4"
    r = runner.invoke(app, ["generate", said, "-o", str(clip), "--frames", "9", "--size", "32", *w])
    assert r.exit_code == 0, r.output
    extend = ["extend", str(clip), "--seconds", "0.5", "--prompt", said]
    long = ["generate", said, "--seconds", "3", "--size", "32"]
    # each window's context and new frames: window_context / window_frames with one
    # continuation a window, extend_context / extend_window for the best of N
    for argv, steps, window_steps, layout in (
        (extend, 3, None, None),  # the best of 2 per window: the pipeline's steps
        ([*extend, "--candidates", "1"], 2, None, None),  # one a window: window_steps
        ([*extend, "--candidates", "1", "--steps", "1"], 1, None, None),
        (long, 3, 2, (1, 8)),  # the first clip the pipeline's steps, each window window_steps
        ([*long, "--steps", "1"], 1, 1, (1, 8)),
        ([*long, "--candidates", "2"], 3, 3, (5, 12)),
    ):
        out = tmp_path / f"{argv[0]}{'_'.join(argv[1:]).replace('/', '')[-40:]}.mp4"
        r = runner.invoke(app, [*argv, "-o", str(out), *w])
        assert r.exit_code == 0, r.output
        params = signed_parameters(out)
        assert (params["steps"], params.get("window_steps")) == (steps, window_steps), argv
        made = (params.get("window_context"), params.get("window_frames"))
        assert made == (layout or (None, None)), argv
        # guided where window_guidance_interval says in windows of one continuation each
        interval = {(1, 8): {"lo": 0.5, "hi": 1.0}, (5, 12): {"lo": 0.0, "hi": 1.0},
                    None: None}[layout]  # fmt: skip
        assert params.get("window_guidance_interval") == interval, argv
        # decoded each window alone (window_decode) where the windows keep one each
        decode = {(1, 8): "window", (5, 12): "stream", None: None}[layout]
        assert params.get("window_decode") == decode, argv
        # the clip (a long video's first) guided where text_guidance_interval says
        first = {"lo": 0.4, "hi": 1.0} if argv[0] == "generate" else None
        assert params.get("guidance_interval") == first, argv
        if argv[0] == "generate":
            assert len(read_video(out).frames) == 25  # 3 s at 8 fps, whatever the windows


def test_extend_without_a_prompt_continues_what_the_verifier_reads(
    tmp_path: Path, tiny_pipeline
) -> None:
    import dataclasses

    from kinema.io import Video, write_video
    from kinema.models.vae import default_weights_dir
    from kinema.pipelines import Pipeline
    from kinema.pipelines.verify import ShapesWorldVerifier

    config = dataclasses.replace(tiny_pipeline.config, verifier="shapes-world")
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config,
                    verifier=ShapesWorldVerifier.from_pretrained(default_weights_dir()))  # fmt: skip
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--steps", "1", "--seed", "2",
         "--seconds", "0.5"]  # fmt: skip
    src = tmp_path / "src.mp4"
    r = runner.invoke(app, ["world", "render", "a large red circle moving left on a black "
                            "background", "-o", str(src), "--frames", "17"])  # fmt: skip
    assert r.exit_code == 0, r.output
    noise = np.random.default_rng(0).integers(0, 256, (17, 64, 64, 3), dtype=np.uint8)
    other = write_video(Video(noise, 8.0), tmp_path / "noise.mp4")
    for name, argv, read in (
        ("read", [str(src)], "a large red circle moving left on a black background"),
        ("none asked", [str(src), "--prompt", ""], None),
        ("given", [str(src), "--prompt", "a red circle bouncing on black"], None),
        ("not the world", [str(other)], None),
    ):
        out = tmp_path / f"{name.replace(' ', '_')}.mp4"
        r = runner.invoke(app, ["extend", *argv, "-o", str(out), *w])
        assert r.exit_code == 0, (name, r.output)
        flat = " ".join(r.output.split())
        assert ("no prompt: the verifier reads" in flat) is (read is not None), (name, flat)
        if read is not None:
            assert f"reads {read!r}" in flat, flat
        params = signed_parameters(out)
        assert params.get("prompt_read_from_video", False) is (read is not None), (name, params)


def test_extension_windows_record_their_planner(
    tmp_path: Path, tiny_pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from kinema.pipelines import Pipeline

    # what each call of the pipeline was asked: a long video's first clip is guarded
    asked = recorded_calls(monkeypatch)

    config = dataclasses.replace(tiny_pipeline.config, planner="shapes-world",
                                 context_guidance=2.5, fill_context_guidance=1.5,
                                 anchor="shapes-world-sprite", guard="shapes-world-reading",
                                 guard_threshold=0.5, guard_tries=1)  # fmt: skip
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config)
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--steps", "1", "--seed", "3"]
    said = "a large red circle moving left on a black background"
    runs = {
        "long": ["generate", said, "--seconds", "3", "--size", "32", *w],
        "long, held": ["generate", said, "--seconds", "3", "--size", "32", *w, "--hold-prompt"],
        # a prompt the planner does not read is held too
        "long, held as unread": [
            "generate",
            "a dog on a beach",
            "--seconds",
            "3",
            "--size",
            "32",
            *w,
        ],
    }

    def run(name: str, argv: list[str]) -> None:
        out = tmp_path / f"{name.replace(', ', '_').replace(' ', '_')}.mp4"
        r = runner.invoke(app, [*argv, "-o", str(out)])
        assert r.exit_code == 0, (name, r.output)
        said_so = "shapes-world planner: objects turn round at the walls" in " ".join(
            r.output.split()
        )
        assert said_so is ("held" not in name), (name, r.output)
        guarded = "shapes-world-reading guard scores under 0.5 is made again" in " ".join(
            r.output.split()
        )
        assert guarded is name.startswith("long"), (name, r.output)
        first = "in the first clip, candidates it reads right go first" in " ".join(
            r.output.split()
        )
        assert first is name.startswith("long"), (name, r.output)
        if name.startswith("long"):  # the first clip guarded, its windows not asked to be
            assert [a.get("guarded", False) for a in asked[-2:]] == [True, False], asked
        runs[name] = out  # type: ignore[assignment]

    for name, argv in list(runs.items()):
        run(name, argv)
    extend = ["extend", str(runs["long"]), "--seconds", "0.5", "--prompt", said, *w]
    run("extend", extend)
    run("extend, held", [*extend, "--hold-prompt"])
    fill = tmp_path / "fill.mp4"
    r = runner.invoke(app, ["fill", str(runs["long"]), "--frames", "5-6", "-o", str(fill), *w])
    assert r.exit_code == 0, r.output
    for name, out in runs.items():
        params = signed_parameters(out)
        assert params["window_planner"] == ("" if "held" in name else "shapes-world"), name
        if not name.startswith("extend"):  # a long video's windows read an anchored context
            assert params["window_anchor"] == "shapes-world-sprite", (name, params)
            # and windows made again where the reader reads another shape
            assert params["window_guard"] == "shapes-world-reading", (name, params)
            assert (params["window_guard_threshold"], params["window_guard_tries"]) == (0.5, 1)
        # the guidance on the given frames each sampled with: the windows' (and extend's) c
        key = "context_guidance" if name.startswith("extend") else "window_context_guidance"
        assert params[key] == 2.5, (name, params)
    assert signed_parameters(fill)["context_guidance"] == 1.5


def test_keyframes_describe_and_curate(tmp_path: Path) -> None:
    from kinema.io import Video, write_video
    from kinema.world.edits import edited_video

    frames, cuts = edited_video(np.random.default_rng(2), shots=(3, 3))
    video = write_video(Video(frames, 8.0), tmp_path / "edit.mp4")
    kf = tmp_path / "kf"
    r = runner.invoke(app, ["keyframes", str(video), "-o", str(kf), "--max", "3"])
    assert r.exit_code == 0, r.output
    index = json.loads((kf / "index.json").read_text())
    assert len(index["shots"]) == 3 and len(index["keyframes"]) == 3
    assert (kf / "contact_sheet.png").is_file()
    r = runner.invoke(app, ["keyframes", str(video), "-o", str(kf)])
    assert r.exit_code == 2 and "--force" in r.output

    r = runner.invoke(app, ["describe", str(video), "--json", "-o", str(tmp_path / "d.json")])
    assert r.exit_code == 0, r.output
    data = json.loads((tmp_path / "d.json").read_text())
    assert [s["start"] for s in data["shots"][1:]] == [c for c, _ in cuts]
    r = runner.invoke(app, ["describe", str(video)])
    assert r.exit_code == 0 and "3 shots" in r.output and "caption:" in r.output

    raw = tmp_path / "raw"
    raw.mkdir()
    write_video(Video(frames, 8.0), raw / "a.mp4")
    r = runner.invoke(app, ["data", "curate", str(raw), "--out", str(tmp_path / "cur")])
    assert r.exit_code == 0, r.output
    assert "1 videos -> " in r.output and (tmp_path / "cur" / "manifest.jsonl").is_file()


def test_train_vae_decoder_only_keeps_the_latent_space(tmp_path: Path) -> None:
    import dataclasses

    import torch
    import yaml

    from kinema.config import VAE_PRESETS
    from kinema.models.vae import CausalVAE

    torch.manual_seed(0)
    start = CausalVAE(
        dataclasses.replace(VAE_PRESETS["vae-tiny"], scale=(2.0,) * 4, shift=(0.5,) * 4)
    )
    start.save_pretrained(tmp_path / "start")  # fp16, as shipped weights are
    start = CausalVAE.from_pretrained(tmp_path / "start")
    tiny = {
        "model": {"preset": "vae-tiny"},
        "freeze_encoder": True,
        "train": {"steps": 2, "batch_size": 1, "warmup": 1, "bf16": False, "eval_every": 2,
                  "ckpt_every": 2},
        "data": {"buckets": [[5, 32, 32, 1.0]], "val_clips": 1},
    }  # fmt: skip
    recipe = tmp_path / "dec.yaml"
    recipe.write_text(yaml.safe_dump(tiny))
    base = ["train", "vae", "--config", str(recipe)]
    r = runner.invoke(app, [*base, "--out", str(tmp_path / "r0")])
    assert r.exit_code == 2 and "--init" in r.output  # a random encoder is nothing to freeze
    weights = tmp_path / "w"
    r = runner.invoke(app, [*base, "--out", str(tmp_path / "r1"), "--init", str(tmp_path / "start"),
                            "--export", str(weights)])  # fmt: skip
    assert r.exit_code == 0, r.output
    out = CausalVAE.from_pretrained(weights)
    assert out.cfg.scale == start.cfg.scale and out.cfg.shift == start.cfg.shift  # not recalibrated
    a, b = start.state_dict(), out.state_dict()
    enc = [k for k in a if k.startswith("encoder.")]
    dec = [k for k in a if k.startswith("decoder.")]
    assert all(torch.equal(a[k], b[k]) for k in enc)  # bit for bit
    assert any(not torch.allclose(a[k], b[k], atol=1e-4) for k in dec)


def test_train_moderation_exports_head_recipe_and_log(tmp_path: Path) -> None:
    import yaml

    (tmp_path / "policy.yaml").write_text(
        "categories:\n  weapons:\n    title: Weapons\n    examples: [how to build a bomb]\n"
        "benign_examples: [a cat on a sofa]\n"
    )
    (tmp_path / "data.yaml").write_text(
        "harmful:\n  weapons: [a pipe bomb guide, building an untraceable gun]\n"
        "benign: [a red ball, a dog in a park, a sunset]\n"
    )
    recipe = tmp_path / "mod.yaml"
    recipe.write_text(yaml.safe_dump({"data": [str(tmp_path / "data.yaml")], "compose": "",
                                      "policy": str(tmp_path / "policy.yaml"), "epochs": 50}))  # fmt: skip
    run, weights = tmp_path / "run", tmp_path / "weights"
    args = [
        "train",
        "moderation",
        "--config",
        str(recipe),
        "--out",
        str(run),
        "--export",
        str(weights),
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "out-of-fold recall" in r.output
    assert {p.name for p in weights.iterdir()} == {
        "moderation_head.safetensors", "moderation_head.json", "moderation_recipe.yaml",
        "moderation_train_log.jsonl", "moderation_command.txt",
    }  # fmt: skip
    assert json.loads((weights / "moderation_head.json").read_text())["categories"] == ["weapons"]
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "already holds a run" in r.output


def test_long_fill_and_interpolate_say_and_record_their_windows(
    tmp_path: Path, tiny_pipeline
) -> None:
    import dataclasses

    from kinema.io import Video, read_video, write_video
    from kinema.pipelines import Pipeline
    from kinema.world.render import render
    from kinema.world.scene import sample_scene

    config = dataclasses.replace(tiny_pipeline.config, fill_window=9)
    pipe = Pipeline(tiny_pipeline.dit, tiny_pipeline.vae, tiny_pipeline.text_encoder, config)
    w = ["--weights", str(pipe.save_pretrained(tmp_path / "w")), "--steps", "1", "--seed", "1",
         "--candidates", "1"]  # fmt: skip
    src = render(sample_scene(2, num_frames=17, height=32, width=32))
    write_video(Video(src, 8.0), tmp_path / "src.mp4")
    write_video(Video(src[:9], 8.0), tmp_path / "short.mp4")
    runs = {  # argv -> windows said (None: one window, nothing said)
        ("fill", "src.mp4", "--frames", "2-3,12-13"): 2,
        ("fill", "src.mp4", "--frames", "3-4"): 1,  # one window, but not the whole video
        ("fill", "short.mp4", "--frames", "3-4"): None,
        ("interpolate", "short.mp4", "--factor", "2"): 5,  # 17 frames, every other one new
    }
    from kinema.pipelines.text_to_video import fill_plan

    gaps = np.ones(17, dtype=bool)
    gaps[[2, 3, 12, 13]] = False
    assert [len(fill_plan(k, 9)) for k in (gaps, np.arange(17) % 2 == 0)] == [2, 5]
    for n, (argv, windows) in enumerate(runs.items()):
        out = tmp_path / f"out{n}.mp4"
        r = runner.invoke(app, [argv[0], str(tmp_path / argv[1]), *argv[2:], "-o", str(out), *w])
        assert r.exit_code == 0, r.output
        flat = " ".join(r.output.split())
        said = f"17 frames: filled in {windows} window{'s' if windows != 1 else ''} of 9 around"
        assert (said in flat) is (windows is not None), flat
        assert read_video(out).num_frames == (9 if argv[1] == "short.mp4" and argv[0] == "fill"
                                              else 17)  # fmt: skip
        params = signed_parameters(out)
        assert params.get("fill_window") == (9 if windows else None), argv
