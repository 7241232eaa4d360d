"""Synthetic but readable text for the benchmarks: sentences about a few dozen topics.

Deterministic for a seed, so runs compare like with like. Each sentence mixes a topic's words with
common filler, so both BM25 and an embedder have real signal to find.
"""

from __future__ import annotations

import random

TOPICS = {
    "solar": "solar panel inverter roof sunlight battery grid warranty installer kilowatt",
    "bakery": "bakery sourdough flour oven crust yeast loaf pastry baker croissant",
    "harbor": "harbor ferry boat dock sailor tide pier cargo lighthouse anchor",
    "finance": "invoice payment budget revenue quarter forecast audit expense ledger tax",
    "garden": "garden tomato soil compost seed watering greenhouse pruning harvest mulch",
    "database": "database index query table postgres replica migration schema backup shard",
    "music": "concert guitar piano rehearsal orchestra melody rhythm violin drummer album",
    "travel": "flight hotel passport itinerary luggage train museum beach visa tour",
    "medicine": "doctor patient clinic vaccine symptom dosage nurse therapy diagnosis fever",
    "football": "football match goal striker referee stadium league coach penalty season",
    "astronomy": "telescope galaxy planet orbit comet nebula star eclipse observatory moon",
    "cooking": "recipe soup lentil garlic cumin simmer onion spice kitchen pepper",
}
FILLER = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "for",
    "on",
    "with",
    "at",
    "by",
    "from",
    "about",
    "this",
    "that",
    "team",
    "plan",
    "week",
    "report",
    "new",
    "first",
    "next",
    "some",
    "many",
    "every",
    "other",
    "after",
    "before",
    "during",
    "because",
    "while",
    "note",
    "update",
]


def sentences(count: int, words: int, seed: int = 7) -> list[str]:
    """``count`` sentences of about ``words`` words, each about one topic."""
    rng = random.Random(seed)
    topics = [t.split() for t in TOPICS.values()]
    out = []
    for _ in range(count):
        topic = rng.choice(topics)
        body = [
            rng.choice(topic) if rng.random() < 0.45 else rng.choice(FILLER) for _ in range(words)
        ]
        out.append(" ".join(body).capitalize() + ".")
    return out


def queries(count: int, seed: int = 11) -> list[str]:
    """Short queries of two or three topic words."""
    rng = random.Random(seed)
    topics = [t.split() for t in TOPICS.values()]
    return [" ".join(rng.sample(rng.choice(topics), rng.choice((2, 3)))) for _ in range(count)]
