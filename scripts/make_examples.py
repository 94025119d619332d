"""Write the app's clickable examples into examples/ from MNIST test digits (run once; committed).

    MNIST_DATA_DIR=../shared/data python -m scripts.make_examples
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.synthetic import pen_drawing, write_number
from mnist_demo.augment import CorruptionStrength, corrupt
from mnist_demo.data import load_digits, resolve_data_dir

OUT = Path(__file__).resolve().parent.parent / "examples"


def enlarge(digit: np.ndarray, side: int) -> Image.Image:
    return Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)


def first_of(test_labels: torch.Tensor, label: int, skip: int = 0) -> int:
    return int(torch.nonzero(test_labels == label)[skip])


def main() -> None:
    test = load_digits(resolve_data_dir(), train=False)
    OUT.mkdir(exist_ok=True)
    images = test.images.numpy()
    # a drawing: dark ink on white, small and off-centre on a 400x300 canvas
    canvas = Image.new("L", (400, 300), 255)
    canvas.paste(Image.eval(enlarge(images[first_of(test.labels, 3)], 140), lambda v: 255 - v), (40, 30))
    canvas.save(OUT / "drawn_3.png", optimize=True)
    # light ink on a dark background
    enlarge(images[first_of(test.labels, 5)], 200).save(OUT / "light_on_dark_5.png", optimize=True)
    # photo-like: uneven light, blur, noise and specks, dark ink on paper, saved as JPEG
    digit = torch.from_numpy(np.array(enlarge(images[first_of(test.labels, 2)], 224))).float()[None, None] / 255
    strength = CorruptionStrength(clean_fraction=0.0, blur_sigma=(0.8, 1.0), ink_level=(0.6, 0.6),
                                  background_level=(0.15, 0.15), lighting_gradient=0.3, noise_sigma=(0.06, 0.06),
                                  speck_rate=(0.002, 0.002))
    damaged = corrupt(digit, torch.Generator().manual_seed(3), strength)
    paper = (255 * (1 - damaged[0, 0].clamp(0, 1))).byte().numpy()
    Image.fromarray(paper).convert("RGB").save(OUT / "photo_2.jpg", quality=85)
    # a transparent PNG: black strokes in the alpha channel only
    alpha = np.asarray(enlarge(images[first_of(test.labels, 7)], 200))
    rgba = np.zeros((*alpha.shape, 4), dtype=np.uint8)
    rgba[..., 3] = alpha
    Image.fromarray(rgba, "RGBA").save(OUT / "transparent_7.png", optimize=True)
    # a number: 4, 2 and 7 redrawn with a pen and written side by side, dark ink on white
    patches = [pen_drawing(images[first_of(test.labels, label)], 200, 14) for label in (4, 2, 7)]
    ink, _ = write_number(patches, gap=40, canvas=(320, 800))
    Image.fromarray(255 - ink).save(OUT / "number_427.png", optimize=True)


if __name__ == "__main__":
    main()
