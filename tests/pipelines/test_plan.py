"""Window plans: the shapes-world planner turns linear motions round at the walls, and each
extension window reads its planner's prompt for the frames made so far."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kinema.errors import InvalidInputError
from kinema.io.video import Video
from kinema.pipelines import Pipeline, PipelineConfig
from kinema.pipelines.plan import Heading, ShapesWorldPlanner, direction, seen_going
from kinema.pipelines.text_to_video import Timings
from kinema.world.render import render
from kinema.world.scene import SceneGraph, SceneObject

UP = "a clip showing a small yellow tile that is drifting up over a gray background"


def clip(*objects: SceneObject, frames: int = 9, background: str = "gray") -> np.ndarray:
    return render(SceneGraph(background, objects, num_frames=frames))


def test_direction_turns_round_where_the_wall_comes_within_the_window() -> None:
    # 64 px frame, half side 5: the top wall stops the centre at y = 5. By default it turns
    # where the wall comes within the first half of the window (reach 0.5)
    assert direction(Heading(12.0, -1.5, 5.0, 64), -1.0, 12) == 1.0  # 7 px to the wall, 9 to go
    assert direction(Heading(18.0, -1.5, 5.0, 64), -1.0, 12) == -1.0  # 13 px: not before then
    assert direction(Heading(18.0, -1.5, 5.0, 64), -1.0, 12, reach=1.0) == 1.0  # 18 to go
    assert direction(Heading(18.0, -1.5, 5.0, 64), -1.0, 8, reach=1.0) == -1.0  # 12 to go
    assert direction(Heading(40.0, -1.5, 5.0, 64), -1.0, 12, reach=1.0) == -1.0  # room
    # stuck at the wall it was told to go to: away from it (the slowest speed counts)
    assert direction(Heading(5.0, 0.0, 5.0, 64), -1.0, 12) == 1.0
    assert direction(Heading(59.0, 0.0, 5.0, 64), 1.0, 12) == -1.0
    # the way it is seen going (it reflected already), or the fallback where it barely moves
    assert seen_going(Heading(30.0, 1.5, 5.0, 64), -1.0) == 1.0
    assert seen_going(Heading(30.0, -0.5, 5.0, 64), 1.0) == -1.0
    assert seen_going(Heading(32.0, 0.2, 5.0, 64), -1.0) == -1.0  # under 0.3 px / frame


def test_the_planner_turns_an_object_that_reaches_the_wall() -> None:
    planner = ShapesWorldPlanner()
    near = clip(SceneObject("yellow", "square", "small", "up", 32.0, 24.0, vy=-1.5))  # y 12
    assert (
        planner.window_prompt(UP, near, 12)
        == "a small yellow square moving down on a gray background"
    )
    # far from the wall, or a window too short to get there: the prompt as given
    far = clip(SceneObject("yellow", "square", "small", "up", 32.0, 60.0, vy=-1.5))
    assert planner.window_prompt(UP, far, 12) == UP
    later = clip(SceneObject("yellow", "square", "small", "up", 32.0, 30.0, vy=-1.5))  # y 18
    assert planner.window_prompt(UP, later, 12) == UP  # the wall comes in the window's 2nd half
    assert ShapesWorldPlanner(reach=1.0).window_prompt(UP, later, 12) != UP
    # after the world reflected it (frames 8-16 go down from the top wall): down it goes on
    graph = SceneGraph(
        "gray",
        (SceneObject("yellow", "square", "small", "up", 32.0, 12.0, vy=-1.5),),
        num_frames=17,
    )
    assert np.all(np.diff(graph.centres()[0, 8:, 1]) > 0)  # y grows: it goes down
    said = planner.window_prompt(UP, render(graph)[8:], 12)
    assert said == "a small yellow square moving down on a gray background"


def test_the_plan_goes_the_way_the_window_before_was_told() -> None:
    planner = ShapesWorldPlanner()
    down = "a small yellow square moving down on a gray background"
    # seen going up from y = 50 to 38, told down the window before: down it goes (a model told
    # to turn round may take a window to do it), while a first window goes on up
    rising = clip(SceneObject("yellow", "square", "small", "up", 32.0, 50.0, vy=-1.5))
    assert planner.window_prompt(UP, rising, 12, before=down) == down
    assert planner.window_prompt(UP, rising, 12) == UP
    assert planner.window_prompt(UP, rising, 12, before=UP) == UP
    # told down and near the bottom: up again (the prompt as given)
    low = clip(SceneObject("yellow", "square", "small", "down", 32.0, 40.0, vy=1.5))  # y 52
    assert planner.window_prompt(UP, low, 12, before=down) == UP
    # barely moving: the way it was told, or the prompt's in a first window
    slow = clip(SceneObject("yellow", "square", "small", "up", 32.0, 32.0, vy=-0.1))
    assert planner.window_prompt(UP, slow, 12, before=down) == down
    assert planner.window_prompt(UP, slow, 12) == UP


def test_the_planner_keeps_the_scene_and_turns_only_what_reaches_a_wall() -> None:
    planner = ShapesWorldPlanner()
    prompt = (
        "a large red circle moving right and a small blue square moving up on a white background"
    )
    frames = clip(
        SceneObject("red", "circle", "large", "right", 48.0, 40.0, vx=1.5),  # wall at x = 56
        SceneObject("blue", "square", "small", "up", 16.0, 50.0, vy=-1.0),
        background="white",
    )
    said = planner.window_prompt(prompt, frames, 12)
    assert (
        said
        == "a large red circle moving left and a small blue square moving up on a white background"
    )
    # prompts the world parser does not read, or with no linear motion, are held as given
    assert planner.reads(prompt) and planner.reads(UP)
    for held in ("a cat walking on the beach", "a large red circle bouncing on a white background"):
        assert not planner.reads(held)
        assert planner.window_prompt(held, frames, 12) == held
    # an object the frames do not show keeps the prompt's way
    assert planner.window_prompt(UP, frames, 12) == UP
    with pytest.raises(InvalidInputError, match="uint8"):
        planner.window_prompt(UP, frames[0], 12)
    with pytest.raises(InvalidInputError, match="reach"):
        ShapesWorldPlanner(reach=0.0)


class Recording:
    """A planner that says 'window k' for the k-th window and records what it read."""

    name = "recording"
    look = 3

    def __init__(self) -> None:
        self.read: list[tuple[str, np.ndarray, int, str | None]] = []

    def reads(self, prompt: str) -> bool:
        return True

    def window_prompt(
        self, prompt: str, recent: np.ndarray, new_frames: int, before: str | None = None
    ) -> str:
        self.read.append((prompt, recent.copy(), new_frames, before))
        return f"{prompt}, window {len(self.read)}"


def test_each_extension_window_reads_the_planners_prompt(
    tiny_pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = tiny_pipeline
    src = clip(SceneObject("red", "circle", "large", "right", 20.0, 32.0, vx=1.0), frames=9)
    src = np.stack([f[::2, ::2] for f in src])  # 32 x 32
    said: list[list[str]] = []
    real = pipe.complete_latents

    def record(prompts: list[str], *args: object, **kw: object) -> object:
        said.append(list(prompts))
        return real(prompts, *args, **kw)

    monkeypatch.setattr(pipe, "complete_latents", record)
    kw = dict(video=Video(src, 8.0), mode="extend", num_frames=16, seed=2)
    held = pipe("a red circle", **kw)  # no planner: the prompt in every window
    assert said == [["a red circle"], ["a red circle"]]
    said.clear()
    planner = Recording()
    pipe.planner = planner
    timings = Timings()
    out = pipe("a red circle", timings=timings, **kw)
    assert said == [["a red circle, window 1"], ["a red circle, window 2"]]
    assert [(p, r.shape, n, b) for p, r, n, b in planner.read] == [
        ("a red circle", (3, 32, 32, 3), 12, None),  # a first window: nothing read before it
        ("a red circle", (3, 32, 32, 3), 4, "a red circle, window 1"),
    ]
    assert np.array_equal(planner.read[0][1], src[-3:])  # the given video's last frames
    # then the last frames made, as they were before the watermark
    assert np.array_equal(pipe.mark(planner.read[1][1][None])[0], out.frames[18:21])
    assert timings.plan > 0 and timings.total >= timings.plan
    # plan_windows=False holds the prompt, whatever the pipeline's planner
    said.clear()
    again = pipe("a red circle", plan_windows=False, **kw)
    assert said == [["a red circle"], ["a red circle"]]
    assert np.array_equal(again.frames, held.frames)


def test_the_config_names_a_known_planner(tiny_pipeline: Pipeline) -> None:
    with pytest.raises(InvalidInputError, match="planner"):
        PipelineConfig(planner="physics")
    config = dataclasses.replace(tiny_pipeline.config, planner="shapes-world")
    p = tiny_pipeline
    built = Pipeline(p.dit, p.vae, p.text_encoder, config)
    assert isinstance(built.planner, ShapesWorldPlanner)
    assert Pipeline(p.dit, p.vae, p.text_encoder, p.config).planner is None
