"""Headline sentiment from finance lexicons, offline: Loughran-McDonald for English, the
Chinese finance lexicon of Yao et al. (2021) for Chinese.

Both word lists ship in cntext 1.9.2's data files (``cntext/files/*.pkl``), read here with
``pickle`` directly: cntext itself is never imported (its ``__init__`` imports packages
this project does not install). Licences: cntext is MIT; the Loughran-McDonald word
lists are free for academic and non-commercial use (commercial use needs the authors'
licence, https://sraf.nd.edu/); the Chinese lexicon is published with its paper
(Yao, Feng, Wang, Ji, Zhang, "语调、情绪及市场影响:基于金融情绪词典", 管理科学学报 2021).

A headline's score is ``(positive - negative) / (positive + negative + 1)``, in (-1, 1),
with the counts kept. English: a negation ("not", "no", "never", "without", ...) up to
three words before a sentiment word flips it ("not profitable" counts as negative). Chinese
has no spaces: the text is cut by longest match against the lexicon, and a negator
(不, 没, 未, 无, 非) right before a sentiment word flips it.
"""

from __future__ import annotations

import functools
import importlib.util
import pickle
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ENGLISH_LEXICON = "Loughran_McDonald_Financial_Sentiment.pkl"
CHINESE_LEXICON = "ChineseFinancialFormalUnformalSentiment.pkl"
NEGATION_WINDOW = 3
ENGLISH_NEGATIONS = frozenset({"not", "no", "never", "nor", "without", "isn't", "aren't",
                               "wasn't", "weren't", "don't", "doesn't", "didn't", "won't",
                               "cannot", "can't", "hasn't", "haven't"})
CHINESE_NEGATIONS = ("没有", "并非", "不", "没", "未", "无", "非")
_CHINESE_CHARACTER = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ENGLISH_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


@dataclass(frozen=True)
class HeadlineScore:
    positive: int
    negative: int

    @property
    def score(self) -> float:
        return sentiment_score(self.positive, self.negative)


@dataclass(frozen=True)
class Lexicon:
    positive: frozenset[str]
    negative: frozenset[str]
    longest: int

    @functools.cached_property
    def words(self) -> frozenset[str]:
        return self.positive | self.negative


def sentiment_score(positive: int, negative: int) -> float:
    """Net tone in (-1, 1): one word of either side moves it by at most a half."""
    return (positive - negative) / (positive + negative + 1)


def detect_language(text: str) -> str:
    """``zh`` when the text holds a Chinese character, else ``en``."""
    return "zh" if _CHINESE_CHARACTER.search(text) else "en"


def lexicon_folder() -> Path:
    """cntext's data folder, found without importing cntext."""
    spec = importlib.util.find_spec("cntext")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the cntext package (finance sentiment lexicons) is not "
                           "installed: pip install 'cntext>=1.9,<2'")
    return Path(next(iter(spec.submodule_search_locations))) / "files"


def _load(name: str) -> dict:
    with (lexicon_folder() / name).open("rb") as handle:
        return pickle.load(handle)


def _lexicon(positive: Iterable[str], negative: Iterable[str]) -> Lexicon:
    pos = {w.strip().lower() for w in positive if w and w.strip()}
    neg = {w.strip().lower() for w in negative if w and w.strip()}
    both = pos & neg  # a word listed on both sides says nothing
    pos, neg = pos - both, neg - both
    return Lexicon(frozenset(pos), frozenset(neg), max(map(len, pos | neg), default=1))


@functools.lru_cache(maxsize=1)
def english_lexicon() -> Lexicon:
    words = _load(ENGLISH_LEXICON)["Loughran_McDonald_Financial_Sentiment"]
    return _lexicon(words["Positive"], words["Negative"])


@functools.lru_cache(maxsize=1)
def chinese_lexicon() -> Lexicon:
    words = _load(CHINESE_LEXICON)["ChineseFinancialFormalUnformalSentiment"]
    return _lexicon([*words["正式-肯定情绪"], *words["非正式-肯定情绪"]],
                    [*words["正式-否定情绪"], *words["非正式-否定情绪"]])


def _score_english(text: str) -> HeadlineScore:
    lexicon = english_lexicon()
    positive = negative = 0
    last_negation = -NEGATION_WINDOW - 1
    for i, word in enumerate(_ENGLISH_WORD.findall(text.lower())):
        if word in ENGLISH_NEGATIONS or word.endswith("n't"):
            last_negation = i
            continue
        sign = 1 if word in lexicon.positive else -1 if word in lexicon.negative else 0
        if sign and i - last_negation <= NEGATION_WINDOW:
            sign = -sign
        positive += sign > 0
        negative += sign < 0
    return HeadlineScore(positive, negative)


def chinese_words(text: str) -> list[tuple[int, str]]:
    """The lexicon's words found in ``text`` by forward longest match, with positions."""
    lexicon = chinese_lexicon()
    known = lexicon.words
    found, i = [], 0
    while i < len(text):
        for size in range(min(lexicon.longest, len(text) - i), 0, -1):
            if text[i:i + size] in known:
                found.append((i, text[i:i + size]))
                i += size
                break
        else:
            i += 1
    return found


def _score_chinese(text: str) -> HeadlineScore:
    lexicon = chinese_lexicon()
    positive = negative = 0
    taken_until = 0
    for start, word in chinese_words(text):
        sign = 1 if word in lexicon.positive else -1
        before = text[max(taken_until, start - 2):start]
        if any(before.endswith(n) for n in CHINESE_NEGATIONS):
            sign = -sign
        positive += sign > 0
        negative += sign < 0
        taken_until = start + len(word)
    return HeadlineScore(positive, negative)


def score_headline(text: str, language: str | None = None) -> HeadlineScore:
    """Positive and negative word counts of one headline (and its body, if joined)."""
    if (language or detect_language(text)) == "zh":
        return _score_chinese(text)
    return _score_english(text)


SAMPLE_HEADLINES = (
    "Apple beats estimates as iPhone sales surge to a record",
    "Bank faces lawsuit over losses; shares plunge on default fears",
    "Regulator says merger not likely to improve competition",
    "Exxon announces quarterly dividend",
    "招商银行净利润大幅增长，业绩超出预期",
    "万科遭遇债务违约风险，股价暴跌",
)


def headlines_scored_per_second(headlines: Iterable[str] = SAMPLE_HEADLINES,
                                minimum_s: float = 1.0) -> float:
    """Headlines scored per second on this machine (lexicons loaded beforehand), for
    ``benchmarks/perception.py``."""
    texts = list(headlines)
    english_lexicon()
    chinese_lexicon()
    scored, began = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - began) < minimum_s or not scored:
        for text in texts:
            score_headline(text)
        scored += len(texts)
    return scored / elapsed
