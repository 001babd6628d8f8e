"""A tiny random TrOCR-style checkpoint folder, built from local configs (nothing downloaded).

ViT encoder on 8x8 patches of a 32x96 input (a 4x12 grid plus CLS), a 2-layer TrOCR
decoder and a byte-level BPE tokenizer whose vocabulary has multi-character tokens
("he", "ll", "Ġw") and "é" both whole ("Ã©") and as its two UTF-8 bytes ("Ã", "©").
"""

from __future__ import annotations

from pathlib import Path

import torch

SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]
MERGES = [("h", "e"), ("l", "l"), ("Ġ", "w"), ("Ã", "©")]
PIECES = [*"abcdefghijklmnopqrstuvwxyz", "Ġ", "Ã", "©"]
IMAGE_SIZE = (32, 96)
PATCH = 8
GRID = (IMAGE_SIZE[0] // PATCH, IMAGE_SIZE[1] // PATCH)
END = 2


def tiny_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + PIECES + [a + b for a, b in MERGES])}
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=MERGES, unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>", unk_token="<unk>")


def save_tiny_trocr(folder: Path, seed: int = 0, encoder_type: str = "vit",
                    generation: dict | None = None) -> Path:
    """Save the checkpoint (model, tokenizer, image processor) into `folder`.

    `encoder_type` "vit" puts one special token (CLS) before the patches, "deit" two
    (CLS and distillation), as TrOCR-base and TrOCR-small do. The end token's output
    row is zeroed so generation runs to `max_new_tokens`: a random model would
    otherwise often stop at once and read nothing. `generation` goes into the folder's
    `generation_config.json`, as fine-tuned checkpoints ship their beam search.
    """
    from transformers import (
        DeiTConfig,
        TrOCRConfig,
        ViTConfig,
        ViTImageProcessorPil,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
    )

    tokenizer = tiny_tokenizer()
    encoder_config = {"vit": ViTConfig, "deit": DeiTConfig}[encoder_type]
    encoder = encoder_config(image_size=list(IMAGE_SIZE), patch_size=PATCH, num_channels=3, hidden_size=32,
                             num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    decoder = TrOCRConfig(vocab_size=len(tokenizer), d_model=32, decoder_layers=2,
                          decoder_attention_heads=2, decoder_ffn_dim=64, max_position_embeddings=64,
                          pad_token_id=1, bos_token_id=0, eos_token_id=END, decoder_start_token_id=END)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(encoder, decoder)
    torch.manual_seed(seed)
    model = VisionEncoderDecoderModel(config=config)
    with torch.no_grad():
        model.decoder.output_projection.weight[END] = 0
    processor = ViTImageProcessorPil(size={"height": IMAGE_SIZE[0], "width": IMAGE_SIZE[1]},
                                     image_mean=[0.5] * 3, image_std=[0.5] * 3)
    model.generation_config.update(**(generation or {}))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder
