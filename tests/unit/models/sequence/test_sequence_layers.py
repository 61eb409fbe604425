"""Shared blocks and architecture details: RevIN, causal convolutions, TFT attention, patching."""

from __future__ import annotations

import numpy as np
import torch
from sequence_synth import planted_dataset, small_params

from mlfactory.models.registry import get_model_class
from mlfactory.models.sequence._layers import RevIN
from mlfactory.models.sequence.inceptiontime import branch_kernels
from mlfactory.models.sequence.patchtst import n_patches
from mlfactory.models.sequence.tcn import TCN
from mlfactory.models.sequence.tft import InterpretableMultiHeadAttention


def test_revin_standardises_each_series_and_ignores_its_level_and_scale():
    torch.manual_seed(0)
    x = torch.randn(3, 20, 4)
    z = RevIN(4)(x, dim=1)
    torch.testing.assert_close(z.mean(dim=1), torch.zeros(3, 4), atol=1e-5, rtol=0)
    torch.testing.assert_close(z.std(dim=1, unbiased=False), torch.ones(3, 4), atol=1e-3, rtol=0)
    shifted = x * torch.tensor([2.0, 5.0, 0.5, 10.0]) + torch.tensor([100.0, -3.0, 7.0, 4000.0])
    torch.testing.assert_close(RevIN(4)(shifted, dim=1), z, atol=1e-3, rtol=0)


def test_tcn_output_at_step_t_ignores_later_steps():
    torch.manual_seed(0)
    net = TCN(3, channels=4, levels=3, kernel_size=3, dropout=0.0).eval()
    x = torch.randn(2, 30, 3)
    later = x.clone()
    later[:, 20:] = torch.randn(2, 10, 3) * 100
    with torch.no_grad():
        h, h_later = net.blocks(x.transpose(1, 2)), net.blocks(later.transpose(1, 2))
    torch.testing.assert_close(h[:, :, :20], h_later[:, :, :20])
    assert not torch.allclose(h[:, :, 20:], h_later[:, :, 20:])


def test_tft_attention_is_causal_and_averaged_over_heads():
    torch.manual_seed(0)
    attn = InterpretableMultiHeadAttention(8, 2, dropout=0.0)
    _, weights = attn(torch.randn(2, 6, 8))
    assert weights.shape == (2, 6, 6)
    assert torch.all(weights.triu(1) == 0)
    torch.testing.assert_close(weights.sum(dim=-1), torch.ones(2, 6))


def test_tft_exports_attention_and_variable_importance():
    train, test = planted_dataset(200, 1), planted_dataset(9, 3)
    model = get_model_class("tft")(small_params("tft", epochs=1), seed=0).fit(train)
    attn = model.attention_weights(test.x)
    imp = model.variable_importance(test.x)
    assert attn.shape == (9, test.x.seq_len) and imp.shape == (9, test.x.n_features)
    np.testing.assert_allclose(attn.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(imp.sum(axis=1), 1.0, atol=1e-5)


def test_patch_count_matches_unfold_after_end_padding():
    for seq_len, patch, stride in [(16, 4, 4), (64, 8, 8), (60, 16, 8), (10, 10, 1), (17, 4, 3)]:
        x = torch.zeros(1, seq_len + stride)
        assert x.unfold(-1, patch, stride).shape[1] == n_patches(seq_len, patch, stride)


def test_inception_kernels_are_odd_and_decreasing():
    assert branch_kernels(40) == (39, 19, 9)
    assert all(k % 2 == 1 for k in branch_kernels(8))
