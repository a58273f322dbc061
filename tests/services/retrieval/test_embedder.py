"""services/retrieval/embedder.py: the real packaged model, and the deterministic test embedder."""

from __future__ import annotations

import numpy as np

from productdemo.services.retrieval.embedder import HashingEmbedder, MiniLmEmbedder, load_embedder, shape_of


def test_minilm_places_paraphrases_closer_than_unrelated_text() -> None:
    """The packaged MiniLM gives unit vectors where a paraphrase sharing no word is nearest."""
    embedder = load_embedder("minilm")
    vectors = embedder.embed(
        ["How can I duplicate a file?", "Use cp to copy files.", "Bananas are rich in potassium."]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors[0]
    assert similarity[1] > 0.4 > similarity[2]


def test_minilm_truncates_long_text_and_batches_match_single_calls() -> None:
    """A text longer than the model's window is truncated, and batching does not change vectors."""
    embedder = MiniLmEmbedder()
    long_text = "word " * 2000
    batch = embedder.embed(["short text", long_text])
    alone = embedder.embed(["short text"])
    assert np.allclose(batch[0], alone[0], atol=1e-4)
    assert embedder.embed([]).shape == (0, 384)


def test_hashing_embedder_is_deterministic_and_matches_shared_words_only() -> None:
    """The test embedder gives the same vector every time and scores only shared words."""
    embedder = HashingEmbedder()
    a, b, c = embedder.embed(["copy a file", "file copy", "banana"])
    assert np.array_equal(a, embedder.embed(["copy a file"])[0])
    assert float(a @ b) > 0.8 and float(a @ c) == 0.0
    assert shape_of("hashing") == (embedder.model_id, 256)
    assert shape_of("minilm") == ("all-MiniLM-L6-v2-onnx-int8", 384)
