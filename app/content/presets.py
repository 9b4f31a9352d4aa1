"""Named scenarios for the page, embeds and course exercises: content, like the cards.

Each names the drift-experiment parameters it changes from their defaults (``app/parameters.py``);
the API turns them into a full, validated query (``tests/api/test_health_and_presets.py`` checks
every one is valid and affordable, and says what its description claims).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Preset:
    id: str
    title: str
    description: str
    changes: dict[str, Any] = field(default_factory=dict)  # the parameters that differ from their defaults
    job: bool = False  # too long to answer at once: it runs as a job (POST /api/v1/jobs), and no static copy holds it


PRESETS: tuple[Preset, ...] = (
    Preset("default", "Wider roads, steadier traffic",
           "One hidden ReLU layer at nine widths from 16 to 4096 lanes, three seeds each, learning sin γ on 8 districts.",
           {"kernel_width": 64}),
    Preset("narrow-vs-wide", "A narrow road and a wide one",
           "Width 32 against width 4096: the narrow road's traffic map moves during the day, the wide one's barely.",
           {"widths": "32,4096", "kernel_width": 32}),
    Preset("jacot-2018", "Jacot et al.'s Fig. 1, on the ring",
           "Three hidden ReLU layers, σw = 1, σb = 0.1, 200 steps on x₁x₂, as in the paper's Fig. 1, but at widths 128 "
           "and 512 where the paper used 500 and 10 000 (this server's budget): the narrow road's kernel moves several "
           "times more than the wider one's.",
           {"widths": "128,512", "depth": 3, "steps": 200, "target": "xy", "kernel_width": 128}),
    Preset("jacot-2018-original", "Jacot et al.'s Fig. 1, their widths",
           "The paper's setting on the ring: three hidden ReLU layers of 500 and of 10 000 lanes, σw = 1, σb = 0.1, "
           "200 steps on x₁x₂, one network per width. Too long to answer at once, it runs as a job: the wide road "
           "holds 200 million parameters.",
           {"widths": "500,10000", "depth": 3, "steps": 200, "target": "xy", "seeds": 1, "kernel_width": 500}, job=True),
    Preset("mean-field", "Planners who rebuild the roads",
           "The mean-field scaling (one hidden layer): the readout divided by the width and the learning rate multiplied "
           "by it. The kernel keeps moving at every width: features are learned, the city is rebuilt.",
           {"widths": "64,256,1024,4096", "parameterization": "mean_field", "kernel_width": 4096}),
    Preset("rich-alpha", "A small lazy-training scale α",
           "α = 0.1: the same roads, trained less lazily. Every traffic map moves 20–40 times more than with α = 1, "
           "yet it still shrinks with width at about the same slope: a fixed α does not stop the freeze (an α that "
           "shrinks like 1/√width does: compare the two in 'When the analogy breaks').",
           {"widths": "64,256,1024,4096", "alpha": 0.1, "kernel_width": 4096}),
    Preset("blind-spot", "What the planner cannot see",
           "Without biases, a one-layer ReLU network cannot see sin 3γ on 8 equispaced districts: there, every "
           "gradient of the network is orthogonal to it, at every width and in every scaling. Training ignores the "
           "target and only pulls the outputs towards 0, so the loss never falls below 0.25. For the same reason the "
           "mean-field curve in “When the analogy breaks” lies exactly on the NTK one: with the target out of "
           "reach, its learning rate n times larger exactly undoes its readout's extra 1/√n.",
           {"widths": "64,1024", "b_std": 0.0, "frequency": 3, "kernel_width": 1024}),
    Preset("catapult", "Road works a little too fast",
           "Learning rate 14, above every network's stable limit 2N/λ_max at the start (about 9–13 here): every "
           "forecast with a fixed kernel diverges, yet no network does. The wide ones' loss first rises about 30–50-fold, "
           "and their kernel shrinks until the limit climbs above 14 (to about 16–19) and the steps fit: the catapult "
           "(Lewkowycz et al. 2020). The map moves ~30 % even at 4096 lanes.",
           {"widths": "16,64,256,1024,4096", "learning_rate": 14.0, "steps": 50, "kernel_width": 4096}),
    Preset("too-fast", "Road works far too fast",
           "Learning rate 30 is more than twice the stable limit: every network's loss explodes, and each says why.",
           {"widths": "16,256,4096", "learning_rate": 30.0, "steps": 100}),
)

PRESETS_BY_ID = {preset.id: preset for preset in PRESETS}
