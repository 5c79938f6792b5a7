"""Generated documents with known text for the OCR part of bench_service_quality: invoices, letters and
notices, drawn with PIL in the DejaVu fonts at several sizes, each line's text kept as the truth."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONTS = Path("/usr/share/fonts/truetype/dejavu")
FACES = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSansCondensed.ttf",
         "DejaVuSans-Bold.ttf"]  # fmt: skip
NAMES = ["Maria Lopez", "John Smith", "Anna Schmidt", "Paolo Rossi", "Chen Wei", "Fatima Khan", "Tom Baker"]
COMPANIES = ["Northwind Traders", "Acme Supplies Ltd", "Blue River Foods", "Contoso Hardware", "Fabrikam Inc"]
ITEMS = ["Office chair", "Printer paper A4", "USB-C cable 2m", "Desk lamp", "Coffee beans 1kg", "Stapler",
         "Monitor stand", "Whiteboard markers", "Laptop sleeve", "Label printer"]  # fmt: skip
STREETS = ["Main Street", "Elm Avenue", "Harbour Road", "Station Square", "Oak Lane"]
PROSE = [
    "Thank you for your order. Payment is due within 30 days.",
    "Please quote the invoice number on all correspondence.",
    "Goods remain our property until paid in full.",
    "The meeting has been moved to Thursday afternoon.",
    "Our office is closed on public holidays.",
    "Returns are accepted within 14 days of delivery.",
    "For questions call our support line between 9 and 17.",
    "All prices include VAT at the standard rate.",
]


def _code(rng: random.Random) -> str:
    return f"{rng.randint(1000, 9999)}-{rng.choice('ABCDEFGHJK')}"


def document(seed: int) -> list[str]:
    """The lines of one document."""
    rng = random.Random(seed)
    lines = [rng.choice(COMPANIES), f"{rng.randint(1, 250)} {rng.choice(STREETS)}, Springfield"]
    kind = seed % 3
    if kind == 0:
        date = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2024"
        lines += [f"Invoice number: {_code(rng)}", f"Date: {date}"]
        total = 0.0
        for _ in range(rng.randint(3, 6)):
            quantity, price = rng.randint(1, 12), rng.randint(199, 25000) / 100
            total += quantity * price
            lines.append(f"{rng.choice(ITEMS)}  {quantity} x {price:.2f}")
        lines.append(f"Total due: {total:.2f} EUR")
    elif kind == 1:
        lines += [f"Dear {rng.choice(NAMES)},", *rng.sample(PROSE, 3), f"Reference: {_code(rng)}",
                  "Kind regards,", rng.choice(NAMES)]  # fmt: skip
    else:
        lines += ["NOTICE", f"Order {_code(rng)} ships on {rng.randint(1, 28)} May 2024.",
                  f"Tracking ID: {rng.randint(10**9, 10**10 - 1)}", *rng.sample(PROSE, 2),
                  f"Contact: {rng.choice(NAMES).split()[0].lower()}@example.com"]  # fmt: skip
    return lines


def render(lines: list[str], seed: int) -> np.ndarray:
    """The lines drawn black on white (RGB pixels), in one font and size chosen by the seed."""
    rng = random.Random(seed * 7919)
    font = ImageFont.truetype(str(FONTS / FACES[seed % len(FACES)]), rng.choice([22, 26, 30, 34]))
    width = max(int(font.getlength(line)) for line in lines) + 120
    step = int(font.size * 1.8)
    image = Image.new("RGB", (width, step * len(lines) + 100), "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((60, 50 + index * step), line, font=font, fill="black")
    return np.asarray(image)
