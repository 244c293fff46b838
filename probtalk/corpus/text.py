"""Sentences for the synthetic corpus, and pronunciations from pocketsphinx's English dictionary.

Sentences are made by our own small grammar: a main clause from a template
(statement, question or exclamation) filled with common words from hand-made
word classes, then optional tails (place, time, reason) until a target word
count is reached. Every word is checked against the CMU dictionary that
pocketsphinx ships (``cmudict-en-us.dict``), so each sentence is pronounceable
by the synthesisers and force-alignable by :mod:`probtalk.corpus.align`.

At 2.5-3 words per second, 5-16 words (mean about 9) give about 1.5-6 s of audio
(speech plus the synthesiser's lead/trail silences).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from probtalk.errors import InputError

log = logging.getLogger(__name__)
_T = TypeVar("_T")

MIN_WORDS = 5
MAX_WORDS = 16
SENTENCE_KINDS = ("statement", "question", "exclamation")
KIND_WEIGHTS = (0.6, 0.25, 0.15)

# Common, easily pronounced words by class. Kept short on purpose: plausible
# sentences matter more than vocabulary size, and every phone appears often.
NOUNS = (
    "apple", "baby", "bag", "ball", "bank", "bed", "bike", "bird", "boat", "book", "bottle", "box",
    "bread", "bridge", "brother", "bus", "cake", "camera", "car", "cat", "chair", "child", "city",
    "clock", "coat", "coffee", "computer", "cup", "dinner", "doctor", "dog", "door", "dream",
    "farmer", "father", "field", "fish", "flower", "friend", "garden", "gift", "girl", "glass",
    "guitar", "hat", "horse", "house", "island", "jacket", "key", "kitchen", "lamp", "letter",
    "library", "lunch", "machine", "map", "market", "meeting", "message", "milk", "money", "moon",
    "morning", "mother", "mountain", "movie", "music", "neighbor", "newspaper", "office", "orange",
    "painting", "paper", "party", "pencil", "phone", "piano", "picture", "plane", "plant", "pocket",
    "river", "road", "room", "school", "shirt", "shoe", "sister", "song", "station", "story",
    "street", "student", "summer", "table", "teacher", "ticket", "train", "tree", "truck", "video",
    "village", "wall", "watch", "water", "window", "winter", "woman", "word", "world", "yellow",
)  # fmt: skip
NAMES = (
    "Anna", "Ben", "David", "Emma", "Frank", "George", "Helen", "Jack", "James", "Kate", "Laura",
    "Linda", "Mary", "Maria", "Michael", "Nancy", "Paul", "Peter", "Robert", "Sarah", "Susan", "Tom",
)  # fmt: skip
ADJECTIVES = (
    "big", "small", "old", "new", "young", "red", "blue", "green", "white", "black", "bright", "dark",
    "warm", "cold", "quiet", "loud", "happy", "strange", "beautiful", "heavy", "empty", "famous",
    "clean", "dirty", "simple", "little", "lovely", "broken", "expensive", "cheap", "funny", "long",
    "short", "soft", "wooden", "early", "perfect", "different", "wonderful", "tiny",
)  # fmt: skip
# (base, past) verb pairs that take a direct object.
VERBS = (
    ("bring", "brought"), ("buy", "bought"), ("carry", "carried"), ("clean", "cleaned"),
    ("close", "closed"), ("find", "found"), ("fix", "fixed"), ("follow", "followed"),
    ("keep", "kept"), ("lose", "lost"), ("move", "moved"), ("need", "needed"), ("open", "opened"),
    ("paint", "painted"), ("pick", "picked"), ("push", "pushed"), ("read", "read"),
    ("remember", "remembered"), ("sell", "sold"), ("send", "sent"), ("share", "shared"),
    ("show", "showed"), ("take", "took"), ("visit", "visited"), ("wash", "washed"),
    ("watch", "watched"), ("want", "wanted"), ("borrow", "borrowed"), ("check", "checked"),
    ("leave", "left"), ("like", "liked"), ("love", "loved"), ("make", "made"), ("see", "saw"),
)  # fmt: skip
PLACES = (
    "in the kitchen", "at the station", "near the river", "by the window", "in the garden",
    "at the market", "on the table", "under the bridge", "behind the house", "at school",
    "in the office", "on the bus", "across the street", "at the party", "in the village",
)  # fmt: skip
PAST_TIMES = ("yesterday", "last night", "this morning", "on Monday", "last summer", "an hour ago", "last week")
FUTURE_TIMES = ("tomorrow", "next week", "tonight", "on Friday", "next summer", "soon")
TIMES = ("today", "every day", "after lunch", "before dinner", "in the evening", "again", "at noon")
REASONS = (
    "because it was late", "because we were tired", "so nobody would know", "because the door was open",
    "while the music played", "before the rain started", "when the sun came out", "and then we went home",
    "but nobody noticed", "and everyone laughed", "because she asked nicely", "after the meeting ended",
)  # fmt: skip
SUBJECTS = ("I", "we", "you", "they", "he", "she", "my friend", "the teacher", "our neighbor", "my sister")
MODALS = ("will", "can", "should", "must", "could", "might")


def _a(word: str) -> str:
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def _np(rng: np.random.Generator) -> str:
    """A noun phrase: 'the old map', 'a bird', 'Mary's coat'."""
    noun = _pick(rng, NOUNS)
    r = rng.random()
    if r < 0.35:
        return "the " + noun
    if r < 0.65:
        return "the " + _pick(rng, ADJECTIVES) + " " + noun
    if r < 0.85:
        return _a(_pick(rng, ADJECTIVES) + " " + noun)
    return _pick(rng, NAMES) + "'s " + noun


def _pick(rng: np.random.Generator, items: Sequence[_T]) -> _T:
    return items[int(rng.integers(len(items)))]


def _statement(rng: np.random.Generator) -> tuple[str, str]:
    subj = _pick(rng, SUBJECTS + NAMES)
    base, past = _pick(rng, VERBS)
    r = rng.random()
    if r < 0.45:
        return f"{subj} {past} {_np(rng)}", "past"
    if r < 0.7:
        return f"{subj} {_pick(rng, MODALS)} {base} {_np(rng)}", "future"
    if r < 0.85:
        return f"{_np(rng)} was {_pick(rng, ADJECTIVES)}", "past"
    return f"I think {_np(rng)} is {_pick(rng, ADJECTIVES)}", "present"


def _question(rng: np.random.Generator) -> tuple[str, str]:
    base, _ = _pick(rng, VERBS)
    subj = _pick(rng, ("you", "we", "they", "he", "she") + NAMES)
    r = rng.random()
    if r < 0.35:
        return f"did {subj} {base} {_np(rng)}", "past"
    if r < 0.55:
        return f"{_pick(rng, ('where', 'why', 'when', 'how'))} did {subj} {base} {_np(rng)}", "past"
    if r < 0.75:
        return f"{_pick(rng, ('can', 'could', 'should', 'will'))} {subj} {base} {_np(rng)}", "future"
    if r < 0.9:
        return f"is {_np(rng)} {_pick(rng, ADJECTIVES)}", "present"
    return f"where is {_np(rng)}", "present"


def _exclamation(rng: np.random.Generator) -> tuple[str, str]:
    r = rng.random()
    if r < 0.3:
        return f"what {_a(_pick(rng, ADJECTIVES) + ' ' + _pick(rng, NOUNS))}", "none"
    if r < 0.55:
        return f"I can't believe {_np(rng)} is so {_pick(rng, ADJECTIVES)}", "present"
    if r < 0.8:
        base, _ = _pick(rng, VERBS)
        return f"don't {base} {_np(rng)}", "future"
    return f"look at {_np(rng)}", "present"


_CLAUSES: dict[str, Callable[[np.random.Generator], tuple[str, str]]] = {
    "statement": _statement,
    "question": _question,
    "exclamation": _exclamation,
}
# Tails that fit a clause's tense, tried in this order (place, time, reason), each at most once.
_TAILS: dict[str, tuple[tuple[str, ...], ...]] = {
    "past": (PLACES, PAST_TIMES + TIMES, REASONS),
    "future": (PLACES, FUTURE_TIMES + TIMES),
    "present": (PLACES, TIMES),
    "none": (PLACES,),
}


def make_sentence(rng: np.random.Generator) -> str:
    """One sentence from the grammar, ending in '.', '?' or '!'.

    Args:
        rng: random generator; the sentence depends only on its state.
    """
    kind = SENTENCE_KINDS[int(rng.choice(len(SENTENCE_KINDS), p=KIND_WEIGHTS))]
    target = int(rng.integers(MIN_WORDS, MAX_WORDS + 1))
    clause, tense = _CLAUSES[kind](rng)
    words = clause.split()
    for options in _TAILS[tense]:
        if len(words) >= target:
            break
        tail = _pick(rng, options).split()
        if len(words) + len(tail) <= MAX_WORDS and (rng.random() < 0.85 or len(words) < MIN_WORDS):
            words += tail
    text = " ".join(words)
    text = text[0].upper() + text[1:]
    return text + {"statement": ".", "question": "?", "exclamation": "!"}[kind]


def make_sentences(n: int, seed: int) -> list[str]:
    """``n`` distinct sentences, the same for the same seed.

    Args:
        n: how many sentences.
        seed: random seed.

    Returns:
        Sentences of 5-16 words (about 1.5-6 s of audio), mixed statements,
        questions and exclamations, every word in the pronunciation dictionary.

    Raises:
        InputError: ``n`` is negative.
    """
    if n < 0:
        raise InputError(f"number of sentences must be >= 0, got {n}")
    rng = np.random.default_rng(seed)
    out: list[str] = []
    seen: set[str] = set()
    for _ in range(50 * n + 100):
        if len(out) == n:
            break
        s = make_sentence(rng)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


# --- pronunciation dictionary -------------------------------------------------

_WORD_RE = re.compile(r"[a-z]+(?:'[a-z]+)?")


def dictionary_path() -> Path:
    """Path of the CMU pronunciation dictionary bundled with pocketsphinx."""
    from pocketsphinx import get_model_path

    return Path(get_model_path("en-us/cmudict-en-us.dict"))


@functools.lru_cache(maxsize=1)
def load_dictionary() -> dict[str, tuple[str, ...]]:
    """The CMU dictionary as ``word -> ARPAbet phones`` (first pronunciation, stress stripped)."""
    from probtalk.corpus.phones import strip_stress

    out: dict[str, tuple[str, ...]] = {}
    with open(dictionary_path(), encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 2 or "(" in parts[0]:
                continue
            out.setdefault(parts[0], tuple(strip_stress(p) for p in parts[1:]))
    log.debug("loaded %d dictionary words", len(out))
    return out


_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (100, "hundred"))
_ORDINAL = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
            "twelve": "twelfth"}
_NUMBER_RE = re.compile(r"(\d[\d,]*)(?:\.(\d+))?(st|nd|rd|th)?\b", re.IGNORECASE)


def number_words(n: int) -> str:
    """A whole number as English words: ``number_words(1999)`` is "one thousand nine hundred ninety nine"."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for scale, name in _SCALES:
        if n >= scale:
            rest = n % scale
            return f"{number_words(n // scale)} {name}" + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError(n)  # unreachable: every n >= 100 meets a scale


def _spoken(match: re.Match[str]) -> str:
    whole, decimals, suffix = match.group(1).replace(",", ""), match.group(2), match.group(3)
    if len(whole) > 12:  # an identifier, not a quantity: digit by digit
        return " " + " ".join(_ONES[int(c)] for c in whole + (decimals or "")) + " "
    words = number_words(int(whole))
    if decimals:
        words += " point " + " ".join(_ONES[int(c)] for c in decimals)
    elif suffix:
        *head, last = words.split()
        last = _ORDINAL.get(last, (last[:-1] + "ieth") if last.endswith("y") else last + "th")
        words = " ".join([*head, last])
    return f" {words} "


def words_of(text: str) -> list[str]:
    """Lower-case words of a sentence, punctuation removed (apostrophes kept); numbers written in digits
    are spelled out as spoken ("10" ten, "3.5" three point five, "21st" twenty first, "1,200" one thousand
    two hundred), so a transcript or a recogniser's "Go forward 10 meters" aligns every word."""
    return _WORD_RE.findall(_NUMBER_RE.sub(_spoken, text.lower().replace("\u2019", "'")))


def pronounce(word: str) -> list[str]:
    """ARPAbet phones of ``word`` (stress stripped) from the CMU dictionary.

    Raises:
        InputError: the word is not in the dictionary.
    """
    key = word.lower().strip('.,;:!?"()')
    phones = load_dictionary().get(key)
    if phones is None:
        raise InputError(f"word {word!r} is not in the pronunciation dictionary; spell it out or use another word")
    return list(phones)
