#!/usr/bin/env python3
"""The block-causal attention of a causal Wan transformer (Self-Forcing,
LongLive) on diffusers' WanTransformer3DModel, for the references of the
engine's KV-cached chunk forward.

The rule (the "_sora_causal" key of the transformer config): the queries of
the chunk of latent frames [s, e = s + chunk_frames) attend key frame j iff
    j < e and (j < sink_frames or window_frames == 0 or j >= e - window_frames)
Within a chunk attention is full.  diffusers' tokens are frame-major: frame f
holds the (h / ph) * (w / pw) tokens of its patches, so the frame mask
repeats over those tokens.

    from causal_attention import install_block_causal
    install_block_causal(transformer, frames, tokens_per_frame,
                         chunk_frames=2, window_frames=4, sink_frames=2)
    transformer(latents, t, text)  # the masked full-sequence forward
"""
import torch
from diffusers.models.transformers.transformer_wan import WanAttnProcessor


def frame_attends(q, j, chunk_frames, window_frames=0, sink_frames=0):
    """Whether query frame q attends key frame j."""
    e = (q // chunk_frames + 1) * chunk_frames
    return j < e and (j < sink_frames or window_frames == 0
                      or j >= e - window_frames)


def frame_mask(frames, chunk_frames, window_frames=0, sink_frames=0):
    """[frames, frames] bool: query frame (row) attends key frame (column)."""
    return torch.tensor([[frame_attends(q, j, chunk_frames, window_frames,
                                        sink_frames)
                          for j in range(frames)] for q in range(frames)])


def token_mask(frames, tokens_per_frame, chunk_frames, window_frames=0,
               sink_frames=0):
    """[L, L] bool over the frame-major tokens (True attends), the boolean
    attn_mask of scaled_dot_product_attention."""
    mask = frame_mask(frames, chunk_frames, window_frames, sink_frames)
    return mask.repeat_interleave(tokens_per_frame, 0).repeat_interleave(
        tokens_per_frame, 1)


class BlockCausalProcessor(WanAttnProcessor):
    """WanAttnProcessor with @mask on the self-attention only: the
    cross-attention (encoder_hidden_states given) stays unmasked."""

    def __init__(self, mask):
        super().__init__()
        self.mask = mask

    def __call__(self, attn, hidden_states, encoder_hidden_states=None,
                 attention_mask=None, rotary_emb=None):
        if encoder_hidden_states is None:
            attention_mask = self.mask
        return super().__call__(attn, hidden_states, encoder_hidden_states,
                                attention_mask, rotary_emb)


def install_block_causal(transformer, frames, tokens_per_frame, chunk_frames,
                         window_frames=0, sink_frames=0):
    """Makes every attention of @transformer block-causal for a latent clip of
    @frames patch frames of @tokens_per_frame tokens."""
    mask = token_mask(frames, tokens_per_frame, chunk_frames, window_frames,
                      sink_frames)
    transformer.set_attn_processor(BlockCausalProcessor(mask))


def install_full(transformer):
    """Back to diffusers' own processor (full attention)."""
    transformer.set_attn_processor(WanAttnProcessor())


if __name__ == "__main__":
    # The frame mask of the fixture's settings, for a look.
    for row in frame_mask(8, 2, 4, 2).int().tolist():
        print(" ".join(map(str, row)))
