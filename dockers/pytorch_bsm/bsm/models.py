"""The five model classes. Every model maps (input_ids, tab, cat) to class logits.

- ``multimodal_cnn``: text CNN + tabular MLP, concatenated, then a fusion MLP (default).
- ``multimodal_transformer``: a small transformer encoder trained from scratch + tabular MLP.
- ``text_cnn``: the text CNN alone.  ``lstm``: a bidirectional LSTM over the text alone.
- ``tabular_mlp``: numeric + embedded categorical fields alone.

A uniform signature keeps the loop, export and evaluation model-agnostic;
inputs a model does not use are simply ignored (and dropped from its ONNX graph).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bsm.hyperparameters import Hyperparameters
from bsm.text import PAD_ID

_NEG = -1e4  # masked max-pool fill; finite so ONNX and fp16 behave


class TextCNN(nn.Module):
    """Embedding → parallel 1-D convolutions → ReLU → max over the non-pad positions."""

    def __init__(self, vocab: int, hp: Hyperparameters) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hp.embed_dim, padding_idx=PAD_ID)
        self.convs = nn.ModuleList(
            nn.Conv1d(hp.embed_dim, hp.num_filters, k, padding=k // 2) for k in hp.kernel_sizes
        )
        self.out_dim = hp.num_filters * len(hp.kernel_sizes)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        length = input_ids.shape[1]
        pad = input_ids.eq(PAD_ID).unsqueeze(1)  # (B, 1, L)
        x = self.embed(input_ids).transpose(1, 2)  # (B, E, L)
        pooled = []
        for conv in self.convs:
            h = torch.relu(conv(x))[:, :, :length]
            pooled.append(h.masked_fill(pad, _NEG).amax(dim=2))
        return torch.cat(pooled, dim=1)


class TextLSTM(nn.Module):
    """Embedding → bidirectional LSTM → mean over the non-pad positions."""

    def __init__(self, vocab: int, hp: Hyperparameters) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hp.embed_dim, padding_idx=PAD_ID)
        self.lstm = nn.LSTM(hp.embed_dim, hp.hidden_dim // 2, batch_first=True, bidirectional=True)
        self.out_dim = (hp.hidden_dim // 2) * 2

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.embed(input_ids))
        return _masked_mean(h, input_ids)


class TextTransformer(nn.Module):
    """Token + learned position embeddings → transformer encoder → masked mean."""

    def __init__(self, vocab: int, hp: Hyperparameters) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, hp.embed_dim, padding_idx=PAD_ID)
        self.position = nn.Embedding(hp.max_sen_len, hp.embed_dim)
        layer = nn.TransformerEncoderLayer(
            hp.embed_dim,
            hp.num_heads,
            dim_feedforward=2 * hp.embed_dim,
            dropout=hp.dropout,
            batch_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, hp.num_layers, enable_nested_tensor=False)
        self.out_dim = hp.embed_dim

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        x = self.embed(input_ids) + self.position(positions).unsqueeze(0)
        h = self.encoder(x, src_key_padding_mask=input_ids.eq(PAD_ID))
        return _masked_mean(h, input_ids)


def _masked_mean(h: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    keep = input_ids.ne(PAD_ID).unsqueeze(-1).to(h.dtype)
    return (h * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0)


class Tabular(nn.Module):
    """Standardised numeric fields + one small embedding per categorical field → MLP."""

    def __init__(self, n_numeric: int, cardinalities: list[int], hp: Hyperparameters) -> None:
        super().__init__()
        self.embeds = nn.ModuleList(nn.Embedding(c, hp.cat_embed_dim) for c in cardinalities)
        width = n_numeric + hp.cat_embed_dim * len(cardinalities)
        self.mlp = nn.Sequential(nn.Linear(width, hp.hidden_dim), nn.ReLU())
        self.out_dim = hp.hidden_dim

    def forward(self, tab: torch.Tensor, cat: torch.Tensor) -> torch.Tensor:
        parts = [tab] + [embed(cat[:, j]) for j, embed in enumerate(self.embeds)]
        return self.mlp(torch.cat(parts, dim=1))


class BSMClassifier(nn.Module):
    """An optional text encoder and an optional tabular encoder, fused by an MLP head."""

    def __init__(
        self, text: nn.Module | None, tabular: nn.Module | None, hp: Hyperparameters
    ) -> None:
        super().__init__()
        self.text = text
        self.tabular = tabular
        width = (text.out_dim if text else 0) + (tabular.out_dim if tabular else 0)
        self.head = nn.Sequential(
            nn.Dropout(hp.dropout),
            nn.Linear(width, hp.hidden_dim),
            nn.ReLU(),
            nn.Dropout(hp.dropout),
            nn.Linear(hp.hidden_dim, hp.num_classes),
        )

    def forward(
        self, input_ids: torch.Tensor, tab: torch.Tensor, cat: torch.Tensor
    ) -> torch.Tensor:
        parts = []
        if self.text is not None:
            parts.append(self.text(input_ids))
        if self.tabular is not None:
            parts.append(self.tabular(tab, cat))
        return self.head(torch.cat(parts, dim=1))


class WithProbabilities(nn.Module):
    """The exported graph: logits → class probabilities (softmax)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, tab: torch.Tensor, cat: torch.Tensor
    ) -> torch.Tensor:
        return torch.softmax(self.model(input_ids, tab, cat), dim=-1)


def vocab_size(state: dict[str, Any]) -> int:
    """Vocabulary size of the fitted tokenizer (1 when the model has no text)."""
    if not state.get("tokenizer"):
        return 1
    from bsm.text import load_tokenizer

    return load_tokenizer(state["tokenizer"], state["max_sen_len"]).get_vocab_size()


def build_model(hp: Hyperparameters, state: dict[str, Any]) -> BSMClassifier:
    """The model named by ``hp.model_class``, sized by the fitted preprocessing state."""
    vocab = vocab_size(state)
    text: nn.Module | None = None
    if hp.model_class in ("multimodal_cnn", "text_cnn"):
        text = TextCNN(vocab, hp)
    elif hp.model_class == "lstm":
        text = TextLSTM(vocab, hp)
    elif hp.model_class == "multimodal_transformer":
        text = TextTransformer(vocab, hp)
    tabular = None
    if hp.uses_tabular:
        cards = [len(v) for v in state["categorical"].values()]
        tabular = Tabular(len(state["numeric"]), cards, hp)
    return BSMClassifier(text, tabular, hp)
