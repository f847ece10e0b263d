"""Deterministic synthetic BSM (buyer–seller messaging) data.

Each row is one marketplace order: the dialogue between buyer and seller about
it, a few numeric and categorical order fields, and a binary label, ``label``:
did the order end in a refund claim (1) or not (0).

Generating process (all draws from one ``numpy.random.default_rng(seed)``, so a
seed gives the same rows, in the same order, on every machine):

1. Tabular fields, drawn independently per order::

       order_amount          log-normal, median ~45 (currency units)
       seller_rating         uniform 3.0 .. 5.0
       buyer_prior_claims    Poisson(0.7)
       delivery_delay_days   geometric-ish, 0 .. 12
       num_messages          the number of turns in the dialogue (set in step 2)
       product_category      electronics, apparel, home, toys, beauty, sports
       shipping_method       express, standard, economy
       payment_method        card, paypal, gift_card, bank_transfer
       marketplace           US, UK, DE, JP, FR

   Their contribution to the claim's log-odds is ``tab_score``::

       0.55 * buyer_prior_claims - 1.1 * (seller_rating - 4.0)
       + 0.14 * delivery_delay_days + 0.4 * log(order_amount / 45)
       + category effect (electronics +0.6 … beauty -0.4)
       + shipping effect (economy +0.5, express -0.4)
       + payment effect (gift_card +0.3) + marketplace effect (small)

   ``num_messages`` carries no signal of its own.

2. The dialogue. A latent ``issue`` ∈ {none, minor, major} (probabilities
   0.45, 0.30, 0.25) and, for minor/major issues, whether the seller's offer
   resolves it (buyer accepts: p=0.45) decide which phrases appear. Major
   issues use strong complaint phrases ("arrived completely smashed", "never
   received"), minor ones mild ones ("a small scratch", "a bit later than
   expected"), no issue uses satisfied phrases ("works perfectly"). Every
   dialogue also has neutral greeting, product and logistics sentences drawn
   from a few hundred words. Its contribution is ``text_score``::

       none -1.5, minor +0.3, major +1.8; accepted resolution -1.2

   Turns are written ``[bom] buyer: … [eom] [bom] seller: … [eom]`` (the
   delimiters of the BSM data format), two to seven turns.

3. ``label = 1`` when ``text_score + tab_score + noise > 0.6``, with logistic
   noise of scale 0.45. Neither modality alone explains the label (with a
   linear model each alone reaches a held-out AUROC of about 0.82, both
   together about 0.93), so a model that fuses text and tabular fields beats a
   text-only or a tabular-only one. About 42 % of the rows are positive.

About 2 % of the numeric values are missing (empty cells), as in real exports.

:func:`write_dataset` writes a train/val/test split and the hyperparameters
that fit these columns; :func:`generate` returns the rows as a DataFrame.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ID_FIELD = "order_id"
TEXT_FIELD = "dialogue"
LABEL_FIELD = "label"
NUMERIC_FIELDS = (
    "order_amount",
    "seller_rating",
    "buyer_prior_claims",
    "delivery_delay_days",
    "num_messages",
)
CATEGORICAL_FIELDS = ("product_category", "shipping_method", "payment_method", "marketplace")
FORMATS = ("csv", "tsv", "parquet")
SPLITS = {"train": 0.7, "val": 0.15, "test": 0.15}

_CATEGORY_EFFECT = {
    "electronics": 0.6,
    "apparel": 0.3,
    "toys": 0.1,
    "home": 0.0,
    "sports": -0.1,
    "beauty": -0.4,
}
_SHIPPING_EFFECT = {"express": -0.4, "standard": 0.0, "economy": 0.5}
_PAYMENT_EFFECT = {"card": 0.0, "paypal": -0.1, "gift_card": 0.3, "bank_transfer": 0.1}
_MARKET_EFFECT = {"US": 0.0, "UK": 0.05, "DE": -0.1, "JP": -0.2, "FR": 0.1}
_ISSUE_EFFECT = {"none": -1.5, "minor": 0.3, "major": 1.8}
_RESOLVED_EFFECT = -1.2
_THRESHOLD = 0.6
_NOISE_SCALE = 0.45
_MISSING_RATE = 0.02

_PRODUCTS = {
    "electronics": ["headphones", "phone charger", "bluetooth speaker", "tablet", "smart watch"],
    "apparel": ["jacket", "pair of jeans", "wool sweater", "pair of sneakers", "rain coat"],
    "toys": ["building set", "puzzle", "plush bear", "remote control car", "board game"],
    "home": ["coffee maker", "desk lamp", "set of towels", "kitchen knife", "storage box"],
    "sports": ["yoga mat", "water bottle", "tennis racket", "bike helmet", "running belt"],
    "beauty": ["face cream", "hair dryer", "perfume", "makeup brush set", "shampoo"],
}
_GREETINGS = [
    "hi there",
    "hello",
    "good morning",
    "hey",
    "good afternoon",
    "hi, hope you are well",
]
_BUYER_OPENERS = [
    "i am writing about my order of the {p}",
    "quick question about the {p} i bought",
    "this is about order {oid}, the {p}",
    "i ordered the {p} last week",
    "regarding the {p} from your store",
]
_MAJOR = [
    "the {p} arrived completely smashed",
    "the package never arrived and tracking shows nothing",
    "i never received the {p}",
    "you sent me the wrong item, this is not a {p}",
    "the {p} is broken and does not turn on at all",
    "the box was empty when i opened it",
    "this is clearly a counterfeit, not as described",
    "the {p} stopped working after one day",
]
_MINOR = [
    "there is a small scratch on the {p}",
    "the {p} arrived a bit later than expected",
    "the colour is slightly different from the photos",
    "the packaging was a little dented",
    "one of the small parts seems loose",
    "the instructions were missing from the box",
]
_HAPPY = [
    "the {p} works perfectly",
    "it arrived early and well packed",
    "really happy with the {p}",
    "great quality, exactly as described",
    "my family loves the {p}",
    "everything looks great so far",
]
_BUYER_ASKS_MAJOR = [
    "i want a full refund",
    "please refund me immediately",
    "i will open a claim if this is not fixed",
    "this is unacceptable",
    "i am very disappointed",
]
_BUYER_ASKS_MINOR = [
    "what can you do about it",
    "is there anything you can offer",
    "not a big deal but wanted to let you know",
    "could you look into it",
]
_BUYER_ASKS_HAPPY = [
    "just wanted to say thanks",
    "do you sell matching accessories",
    "will you restock the other colours",
    "can i get an invoice for it",
]
_SELLER_APOLOGY = [
    "we are so sorry to hear that",
    "apologies for the trouble",
    "thank you for letting us know",
    "sorry about this experience",
]
_SELLER_HAPPY = [
    "thank you for the kind words",
    "glad you like it",
    "thanks for shopping with us",
    "we appreciate your message",
]
_SELLER_OFFERS = [
    "we can ship a replacement today",
    "we can offer a partial credit of ten percent",
    "please send us a photo and we will sort it out",
    "we have sent you a prepaid return label",
    "we can exchange it for a new one",
]
_BUYER_ACCEPTS = [
    "thanks, that works for me",
    "ok great, happy with that solution",
    "perfect, thank you for the quick help",
    "that is fine, problem solved",
]
_BUYER_REJECTS = [
    "that does not help me",
    "no, i just want my money back",
    "i already waited too long",
    "not good enough",
]
_LOGISTICS = [
    "the courier left it at the front door",
    "i checked the tracking number twice",
    "it came in the original box",
    "the delivery was on a weekday",
    "i am usually at home in the evenings",
    "my address has not changed",
    "our warehouse ships within two days",
    "we use recycled packaging",
]
_CLOSINGS = ["best regards", "thanks", "cheers", "kind regards", "have a nice day", "thank you"]


def generate(rows: int, seed: int = 0) -> pd.DataFrame:
    """Return ``rows`` synthetic BSM orders for ``seed`` (see the module docstring)."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    rng = np.random.default_rng(seed)
    n = rows
    category = rng.choice(list(_CATEGORY_EFFECT), size=n)
    shipping = rng.choice(list(_SHIPPING_EFFECT), size=n, p=[0.25, 0.5, 0.25])
    payment = rng.choice(list(_PAYMENT_EFFECT), size=n, p=[0.5, 0.25, 0.1, 0.15])
    market = rng.choice(list(_MARKET_EFFECT), size=n)
    amount = np.round(np.exp(rng.normal(np.log(45.0), 0.8, size=n)), 2)
    rating = np.round(rng.uniform(3.0, 5.0, size=n), 1)
    prior = rng.poisson(0.7, size=n)
    delay = np.minimum(rng.geometric(0.35, size=n) - 1, 12)

    tab_score = (
        0.55 * prior
        - 1.1 * (rating - 4.0)
        + 0.14 * delay
        + 0.4 * np.log(amount / 45.0)
        + np.array([_CATEGORY_EFFECT[c] for c in category])
        + np.array([_SHIPPING_EFFECT[s] for s in shipping])
        + np.array([_PAYMENT_EFFECT[p] for p in payment])
        + np.array([_MARKET_EFFECT[m] for m in market])
    )

    issue = rng.choice(list(_ISSUE_EFFECT), size=n, p=[0.45, 0.30, 0.25])
    resolved = (issue != "none") & (rng.random(n) < 0.45)
    text_score = np.array([_ISSUE_EFFECT[i] for i in issue]) + _RESOLVED_EFFECT * resolved

    ids = [f"ORD-{seed % 10000:04d}-{i:07d}" for i in range(n)]
    dialogues: list[str] = []
    turns = np.zeros(n, dtype=np.int64)
    for i in range(n):
        product = _PRODUCTS[category[i]][int(rng.integers(len(_PRODUCTS[category[i]])))]
        text, count = _dialogue(rng, ids[i], product, str(issue[i]), bool(resolved[i]))
        dialogues.append(text)
        turns[i] = count

    noise = rng.logistic(0.0, _NOISE_SCALE, size=n)
    label = (text_score + tab_score + noise > _THRESHOLD).astype(np.int64)

    frame = pd.DataFrame(
        {
            ID_FIELD: ids,
            TEXT_FIELD: dialogues,
            "order_amount": amount,
            "seller_rating": rating,
            "buyer_prior_claims": prior.astype(float),
            "delivery_delay_days": delay.astype(float),
            "num_messages": turns.astype(float),
            "product_category": category,
            "shipping_method": shipping,
            "payment_method": payment,
            "marketplace": market,
            LABEL_FIELD: label,
        }
    )
    # Real exports have holes; the training script must impute them.
    for field in ("order_amount", "seller_rating", "delivery_delay_days"):
        holes = rng.random(n) < _MISSING_RATE
        frame.loc[holes, field] = np.nan
    return frame


def _pick(rng: np.random.Generator, options: list[str], **fmt: str) -> str:
    return options[int(rng.integers(len(options)))].format(**fmt)


def _dialogue(
    rng: np.random.Generator, oid: str, product: str, issue: str, resolved: bool
) -> tuple[str, int]:
    """One dialogue as ``[bom] speaker: text [eom]`` turns, and its number of turns."""
    fmt = {"p": product, "oid": oid}
    cues = {"none": _HAPPY, "minor": _MINOR, "major": _MAJOR}[issue]
    asks = {"none": _BUYER_ASKS_HAPPY, "minor": _BUYER_ASKS_MINOR, "major": _BUYER_ASKS_MAJOR}
    buyer = [_pick(rng, _GREETINGS), _pick(rng, _BUYER_OPENERS, **fmt), _pick(rng, cues, **fmt)]
    if rng.random() < 0.5:
        buyer.append(_pick(rng, _LOGISTICS))
    buyer.append(_pick(rng, asks[issue]))
    turns = [("buyer", ". ".join(buyer))]
    if issue == "none":
        seller = [_pick(rng, _SELLER_HAPPY)]
        if rng.random() < 0.4:
            seller.append(_pick(rng, _LOGISTICS))
        turns.append(("seller", ". ".join(seller + [_pick(rng, _CLOSINGS)])))
    else:
        turns.append(("seller", f"{_pick(rng, _SELLER_APOLOGY)}. {_pick(rng, _SELLER_OFFERS)}"))
        if rng.random() < 0.5:
            turns.append(("buyer", _pick(rng, _LOGISTICS)))
            turns.append(("seller", _pick(rng, _LOGISTICS)))
        reply = _BUYER_ACCEPTS if resolved else _BUYER_REJECTS
        turns.append(("buyer", f"{_pick(rng, reply)}. {_pick(rng, _CLOSINGS)}"))
    if rng.random() < 0.3:
        turns.append(("seller", _pick(rng, _CLOSINGS)))
    text = " ".join(f"[bom] {who}: {what} [eom]" for who, what in turns)
    return text, len(turns)


def hyperparameters() -> dict[str, Any]:
    """The training hyperparameters that fit the synthetic columns (plain JSON values)."""
    return {
        "id_name": ID_FIELD,
        "text_name": TEXT_FIELD,
        "label_name": LABEL_FIELD,
        "tab_field_list": list(NUMERIC_FIELDS),
        "cat_field_list": list(CATEGORICAL_FIELDS),
        "model_class": "multimodal_cnn",
        "is_binary": True,
        "num_classes": 2,
        "max_sen_len": 96,
        "batch_size": 32,
        "max_epochs": 3,
        "lr": 0.01,
        "optimizer": "adam",
    }


def write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """Write ``frame`` to ``path`` as csv, tsv or parquet (no index column)."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False, sep="\t" if fmt == "tsv" else ",")
    return path


def write_dataset(
    out_dir: str | Path, rows: int, seed: int = 0, fmt: str = "csv", *, split: bool = True
) -> dict[str, Any]:
    """Write synthetic BSM data under ``out_dir`` and return where it went.

    With ``split=True`` (default) the rows are shuffled with ``seed`` and cut
    70/15/15 into ``out_dir/train/train.<ext>``, ``out_dir/val/val.<ext>`` and
    ``out_dir/test/test.<ext>`` — one directory per SageMaker training channel.
    With ``split=False`` all rows go to ``out_dir/raw/data.<ext>`` (raw input for
    ``preprocess.py``). ``out_dir/hyperparameters.json`` always holds
    :func:`hyperparameters` (plain JSON values; whoever builds the
    CreateTrainingJob request stringifies them as SageMaker does).

    Returns ``{"dir", "format", "rows", "files": {split: path}, "counts":
    {split: n}, "hyperparameters", "hyperparameters_path"}`` with paths as str.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    out = Path(out_dir)
    frame = generate(rows, seed)
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    if split:
        order = np.random.default_rng(seed + 1).permutation(len(frame))
        n_train = int(round(len(frame) * SPLITS["train"]))
        n_val = int(round(len(frame) * SPLITS["val"]))
        parts = {
            "train": order[:n_train],
            "val": order[n_train : n_train + n_val],
            "test": order[n_train + n_val :],
        }
        for name, index in parts.items():
            part = frame.iloc[np.sort(index)].reset_index(drop=True)
            files[name] = str(write_frame(part, out / name / f"{name}.{fmt}", fmt))
            counts[name] = len(part)
    else:
        files["raw"] = str(write_frame(frame, out / "raw" / f"data.{fmt}", fmt))
        counts["raw"] = len(frame)
    hps = hyperparameters()
    hp_path = out / "hyperparameters.json"
    hp_path.parent.mkdir(parents=True, exist_ok=True)
    hp_path.write_text(json.dumps(hps, indent=2) + "\n")
    return {
        "dir": str(out),
        "format": fmt,
        "rows": rows,
        "files": files,
        "counts": counts,
        "hyperparameters": hps,
        "hyperparameters_path": str(hp_path),
    }
