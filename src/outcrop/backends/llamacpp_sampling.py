"""Per-sequence sampling for the llama.cpp engine: a sampler chain, plus a grammar when output is constrained.

Applying a grammar to all ~150k candidate tokens every step costs as much as a small model's decode, so the
grammar is not part of the chain. Each step samples as usual, then asks the grammar about that one token;
only when the grammar rejects it is the grammar applied to the most likely candidates (the whole
vocabulary only if it allows none of them) and the token drawn again (llama.cpp's own server redraws
lazily too). The model's choice is almost always allowed, so constrained decoding runs at nearly the
unconstrained speed.
"""

from __future__ import annotations

import ctypes
import logging
import math
import random
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from outcrop.backends.grammar import Grammar

_log = logging.getLogger(__name__)
_SHORTLIST = 64  # candidates a redraw offers the grammar before the whole vocabulary


@dataclass(frozen=True)
class SamplingPlan:
    temperature: float
    top_p: float | None
    top_k: int | None
    seed: int | None
    grammar: Grammar | None = None


class SequenceSampler:
    """One sequence's sampler chain and grammar (engine thread only)."""

    def __init__(self, llama: Any, vocab: Any, plan: SamplingPlan) -> None:
        self._llama = llama
        self._vocab = vocab
        self._n_vocab = int(llama.llama_vocab_n_tokens(vocab))
        self.chain = self._chain(plan)
        self.grammar = self._grammar(plan.grammar) if plan.grammar else None
        self._one = (llama.llama_token_data * 1)()
        self.grammar_resamples = 0  # steps where the model's first choice broke the grammar
        self.rejected: int | None = None  # the model's own last choice, when the grammar refused it
        self.grammar_seconds = 0.0  # time spent in the grammar: what constraining costs

    def _chain(self, plan: SamplingPlan) -> Any:
        llama = self._llama
        chain = llama.llama_sampler_chain_init(llama.llama_sampler_chain_default_params())
        if plan.temperature <= 0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_greedy())
            return chain
        if plan.top_k:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_k(plan.top_k))
        if plan.top_p is not None and plan.top_p < 1.0:
            llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_top_p(plan.top_p, 1))
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_temp(plan.temperature))
        seed = plan.seed if plan.seed is not None else random.getrandbits(32)
        llama.llama_sampler_chain_add(chain, llama.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _grammar(self, grammar: Grammar) -> Any:
        sampler = self._llama.llama_sampler_init_grammar(self._vocab, grammar.text.encode("utf-8"), b"root")
        if not sampler:
            _log.warning("llama.cpp rejected a generated grammar; sampling without it")
            return None
        return sampler

    def _allowed(self, token: int) -> bool:
        one = self._one
        one[0].id, one[0].logit, one[0].p = token, 0.0, 0.0
        candidates = self._llama.llama_token_data_array(one, 1, -1, False)
        self._llama.llama_sampler_apply(self.grammar, ctypes.byref(candidates))
        return not math.isinf(one[0].logit)

    def _sample_constrained(self, context: Any, row: int) -> int:
        """The usual chain over the tokens the grammar allows among the most likely `_SHORTLIST`, or
        (when it allows none of them) among the whole vocabulary.

        The grammar checks a token by walking its characters through every open parse, so the whole
        vocabulary costs ~50 ms a redraw; the shortlist a few hundred times less. Greedy decoding picks
        the same token either way (the best allowed token is in the shortlist whenever any allowed one
        is); sampling loses only allowed tokens less likely than the 64 best, a negligible mass."""
        llama = self._llama
        self.grammar_resamples += 1
        logits = np.ctypeslib.as_array(llama.llama_get_logits_ith(context, row), shape=(self._n_vocab,))
        shortlist = np.argpartition(logits, -_SHORTLIST)[-_SHORTLIST:]
        for ids in (shortlist, None):
            candidates = self._candidates(logits, ids)
            llama.llama_sampler_apply(self.grammar, ctypes.byref(candidates))
            if ids is None or any(not math.isinf(candidates.data[i].logit) for i in range(candidates.size)):
                break
        llama.llama_sampler_apply(self.chain, ctypes.byref(candidates))
        chosen = candidates.data[candidates.selected]
        if math.isinf(chosen.logit):  # the grammar allows nothing: end the sequence rather than break it
            return int(llama.llama_vocab_eos(self._vocab))
        llama.llama_sampler_accept(self.chain, chosen.id)
        return int(chosen.id)

    def _candidates(self, logits: Any, ids: Any) -> Any:
        """A llama_token_data_array of `ids` (None: the whole vocabulary) with their logits."""
        llama = self._llama
        count = self._n_vocab if ids is None else len(ids)
        data = (llama.llama_token_data * count)()
        view = np.frombuffer(data, dtype=np.dtype([("id", "<i4"), ("logit", "<f4"), ("p", "<f4")]))
        view["id"] = np.arange(self._n_vocab, dtype=np.int32) if ids is None else ids
        view["logit"] = logits if ids is None else logits[ids]
        view["p"] = 0.0
        candidates = llama.llama_token_data_array(data, count, -1, False)
        candidates.keep = data  # the array points into `data`: keep it alive as long as the array
        return candidates

    def sample(self, context: Any, row: int, *, is_end: Any) -> int:
        """The next token for the logits in `row`; `is_end(token)` tells end-of-generation tokens."""
        token = int(self._llama.llama_sampler_sample(self.chain, context, row))
        self.rejected = None
        if self.grammar is None:
            return token
        started = time.perf_counter()
        if not self._allowed(token):
            self.rejected = token
            token = self._sample_constrained(context, row)
        if not is_end(token):  # the grammar aborts on an end token it did not expect; the sequence ends
            self._llama.llama_sampler_accept(self.grammar, token)
        self.grammar_seconds += time.perf_counter() - started
        return token

    def close(self) -> None:
        for sampler in (self.chain, self.grammar):
            if sampler:
                self._llama.llama_sampler_free(sampler)
        self.chain = self.grammar = None
