#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Makes tests/fixtures/tokenizer/: a small umT5-like tokenizer and the ids
Hugging Face's tokenizers library gives for >= 1000 prompts.

The tokenizer is built the way umT5's was: a SentencePiece Unigram model
(nmt_nfkc normalization, byte fallback pieces) converted by transformers'
T5 converter (Precompiled + Metaspace + Unigram + TemplateProcessing "$A </s>",
300 <extra_id_N> tokens in reverse order). The corpus is procedural English +
Chinese, so nothing is downloaded. Fixed seeds: two runs give identical files.

usage: pip install -r tools/requirements-tokenizer.txt
       python3 tools/make_tokenizer_fixtures.py [OUTDIR]
"""
import json
import os
import random
import shutil
import sys
import tempfile

import sentencepiece as spm
import tokenizers
import transformers
from transformers import T5TokenizerFast

SEED = 20240611
VOCAB_SIZE = 8000
EXTRA_IDS = 300
MAX_LENGTH = 512

WORDS = """the a an of to and in is it that for on with as was at by be this
from or have not are but which one all were when we there can your their
said if do will each about how up out them then she many some so these would
other into has more her two like him see time could no make than first been
its who now people my made over did down only way find use may water long
little very after words called just where most know get through back much go
good new write our me man too any day same right look think also around
another came come work three word must because does part even place well
such here take why things help put years different away again off went old
number great tell men say small every found still between name should home
big give air line set own under read last never us left end along while might
next sound below saw something thought both few those always looked show
large often together asked house world going want school important until
form food keep children feet land side without boy once animals life enough
took sometimes four head above kind began almost live page got earth need
far hand high year mother light parts country father let night following
picture being study second eyes soon times story boys since white days ever
paper hard near sentence better best across during today others however sure
means knew try told young miles sun ways thing whole hear example heard
several change answer room sea against top turned learn point city play
toward five using himself usually camera video frame cat dog river mountain
forest ocean sunset golden slowly walking running flying cinematic close
shot wide angle drone footage realistic style painting anime bright dark
rainy snowy street night neon lights crowd dancing""".split()

SYLLABLES = ("ka ri to na mi su ke lo ve tra pel ston gar mon dri fel quin "
             "bar zen lix hor tan vel cor dus ple shi gro nu wen ath").split()

# Frequent Chinese characters, so the model learns Chinese pieces.
HANZI = ("的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要"
         "下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事"
         "只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民"
         "样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情"
         "部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口"
         "使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处"
         "总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死"
         "常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象"
         "记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义"
         "科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领"
         "传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技"
         "轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史"
         "商千片容研像找友孩站广改议形委早房音火际则首单视猫狗河流森夜晚城市")

FULLWIDTH = "ＡＢＣａｂｃ０１２３４５６７８９！？，．：；（）＂＇　"
PUNCT = list(".,!?;:'\"()[]{}-_/\\@#$%^&*+=<>|~`") + list("，。！？；：“”‘’（）【】、《》…—")
EMOJI = ["😀", "🎬", "🌅", "🐱", "👍🏽", "👩‍💻", "🇯🇵", "❤️", "✨", "🚀", "©", "‼"]
UNKNOWN = ["Привет", "мир", "مرحبا", "नमस्ते", "สวัสดี", "Ωμέγα", "ქართ", "∮∯", "ᚠᚢᚦ",
           "𝔘𝔫𝔦", "ℌ", "ﬁ", "㍿", "①②"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "A\u030a",
             "\u0915\u094d\u0937", "\u1100\u1161", "\u0301", "\u200d", "i\u0307"]
ODD_SPACES = [" ", "  ", "   ", "\t", "\t\t", "\n", "\r\n", "\u00a0", "\u3000",
              "\u2003", "\u200b", "\u2028", "\u0085", "\u00ad", "\ufeff"]
# Where tokenizers' Unicode 16.0 data matters: marks new since Unicode 15.0
# (grapheme Extend, and \w for single_word), the Indic conjunct rule GB9c,
# and Other_Alphabetic symbols (circled letters: \w in Rust's regex). The
# charsmap rewrites a grapheme of under 6 bytes whole, by its first
# character's mapping (so "\u00b2\u0897" loses U+0897 only if it is one
# grapheme); longer ones character by character.
NEW_MARKS = ["\u0897", "\U00010d69", "\U00010d6d", "\U0001611e",
             "\U0001612f", "\U0001e5ee", "\U0001e5ef", "\u1acf", "\U00011f5a"]
UNICODE_EDGES = (
    ["\u0958" + m for m in NEW_MARKS] + ["\u0958" + m + "\u0301" for m in NEW_MARKS] +
    ["\u00b2\u0897", "\u00bd\u0897 a", "\u00a0\u0897", "x\u00b2\u0897\u00b2"] +
    ["\u0915\u094d\u0958\u0301", "\u0915\u094d\u0915\u0301",
     "\u0915\u094d\u200d\u0958\u0301", "\u0915\u0301\u094d\u0958\u0301",
     "\u0915\u094d\u094d\u0958\u0301", "\u094d\u0958\u0301",
     "\u0995\u09cd\u09a6\u0301", "\u0958\u094d\u0958\u0301 \u0958\u0301"] +
    [c + tok for c in ["\u24b6", "\u24d0", "\U0001f150", "\U0001f130",
                       "\u0897", "\U00010d69", "\u2167", "\u01c5", "_", "\u2460",
                       "\u00b2", "\u200d"]
     for tok in ["<extra_id_0>", "<extra_id_1> x"]] +
    ["<extra_id_0>" + c for c in ["\u24e9", "\U0001f189", "\U0001612f", "a"]])
SPECIAL = ["<extra_id_0>", "<extra_id_1>", "<extra_id_299>", "</s>", "<pad>",
           "<unk>", "<extra_id_300>", "<extra_id_0", "</s"]

# Other shapes of tokenizer.json that the C code must follow too: patches of
# the base file (the test applies the same ones). "legacy" is the older T5
# converter's output.
VARIANTS = {
    "byte_fallback": {"byte_fallback": True},
    "legacy": {
        "normalizer_tail": [{"type": "Replace", "pattern": {"Regex": " {2,}"},
                             "content": " "}],
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581",
                          "add_prefix_space": True}},
    "first": {"pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581",
                                "prepend_scheme": "first", "split": True}},
    "whitespace_split": {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"},
        {"type": "Metaspace", "replacement": "\u2581",
         "prepend_scheme": "always", "split": False}]}},
    # Every added token single_word (matched only between non-\w).
    "single_word": {"single_word": True},
}


def english(rng, n):
    out = []
    for _ in range(n):
        if rng.random() < 0.15:
            out.append("".join(rng.choice(SYLLABLES)
                               for _ in range(rng.randint(2, 4))))
        else:
            out.append(rng.choice(WORDS))
    s = " ".join(out)
    return s[0].upper() + s[1:] + rng.choice([".", ".", "!", "?", ","])


def chinese(rng, n):
    return "".join(rng.choice(HANZI) for _ in range(n)) + rng.choice("。！？，")


def corpus_line(rng):
    kind = rng.random()
    if kind < 0.45:
        return english(rng, rng.randint(4, 25))
    if kind < 0.8:
        return chinese(rng, rng.randint(5, 40))
    parts = [english(rng, rng.randint(2, 8)), chinese(rng, rng.randint(2, 12)),
             str(rng.randint(0, 99999)), rng.choice(FULLWIDTH) * rng.randint(1, 3),
             rng.choice(PUNCT)]
    rng.shuffle(parts)
    return " ".join(parts)


def train(workdir):
    rng = random.Random(SEED)
    corpus = os.path.join(workdir, "corpus.txt")
    with open(corpus, "w", encoding="utf-8") as f:
        for _ in range(60000):
            f.write(corpus_line(rng) + "\n")
    prefix = os.path.join(workdir, "spiece")
    spm.SentencePieceTrainer.train(
        input=corpus, model_prefix=prefix, model_type="unigram",
        vocab_size=VOCAB_SIZE, normalization_rule_name="nmt_nfkc",
        character_coverage=0.9995, byte_fallback=True,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, num_threads=1,
        input_sentence_size=0, shuffle_input_sentence=False,
        minloglevel=2)
    return prefix + ".model"


def random_unicode(rng):
    pools = [WORDS, list(HANZI), list(FULLWIDTH), PUNCT, EMOJI, UNKNOWN,
             COMBINING, ODD_SPACES, SPECIAL,
             [chr(rng.randint(0x20, 0x2FFF))],
             [chr(rng.randint(0x1, 0x1F))], [str(rng.randint(0, 10 ** 6))]]
    return "".join(rng.choice(rng.choice(pools))
                   for _ in range(rng.randint(1, 20)))


def prompts():
    rng = random.Random(SEED + 1)
    out = ["", " ", "  ", "\t", "\n", "a", "A.", "0", "。", "hello world",
           " leading", "trailing ", "  both  ", "a  b   c", "a\tb\t\tc",
           "x\n\ny", "Hello\u3000世界", "ＡＢＣ１２３！", "full－width：test",
           "e\u0301 vs \u00e9", "\u00e9\u0301", "👩‍💻 coding", "🇯🇵🇫🇷",
           "no unk here", "Привет мир", "abc\u200bdef", "<extra_id_0>",
           "This is the reason why we <extra_id_0> them.",
           "A <extra_id_0> walks into a bar and orders a <extra_id_1> with "
           "<extra_id_2> pinch of <extra_id_3>.",
           "text</s>more<pad>x", "<unk><unk>", "\u2581already\u2581meta"]
    for _ in range(320):
        out.append(english(rng, rng.randint(1, 40)))
    for _ in range(200):
        out.append(chinese(rng, rng.randint(1, 60)))
    for _ in range(200):
        out.append(corpus_line(rng))
    for _ in range(120):
        s = english(rng, rng.randint(2, 10))
        ws = rng.choice(ODD_SPACES)
        s = s.replace(" ", ws) if rng.random() < 0.5 else ws + s + ws
        out.append(s)
    for _ in range(200):
        out.append(random_unicode(rng))
    out.append(" ".join(english(rng, 30) for _ in range(30)))
    out.append("".join(chinese(rng, 50) for _ in range(30)))
    out.append(("Ｗａｎ " * 400).strip())
    out.extend(UNICODE_EDGES)
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
        "tokenizer")
    os.makedirs(outdir, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        model = train(work)
        slow_dir = os.path.join(work, "hf")
        # add_prefix_space=True: a "▁" before the first word, as umT5 has.
        fast = T5TokenizerFast(vocab_file=model, extra_ids=EXTRA_IDS,
                               legacy=True, add_prefix_space=True)
        fast.save_pretrained(slow_dir)
        # spiece.model too: with add_prefix_space in tokenizer_config.json,
        # from_pretrained rebuilds the fast tokenizer from it.
        for name in ("tokenizer.json", "tokenizer_config.json",
                     "special_tokens_map.json", "spiece.model"):
            shutil.copyfile(os.path.join(slow_dir, name),
                            os.path.join(outdir, name))

    path = os.path.join(outdir, "tokenizer.json")
    hf = T5TokenizerFast.from_pretrained(outdir)
    plain = tokenizers.Tokenizer.from_file(path)
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    variants = {}
    for name, patch in VARIANTS.items():
        v = json.loads(json.dumps(spec))
        if "byte_fallback" in patch:
            v["model"]["byte_fallback"] = patch["byte_fallback"]
        if "normalizer_tail" in patch:
            v["normalizer"]["normalizers"][1:] = patch["normalizer_tail"]
        if "pre_tokenizer" in patch:
            v["pre_tokenizer"] = patch["pre_tokenizer"]
        if "single_word" in patch:
            for added in v["added_tokens"]:
                added["single_word"] = patch["single_word"]
        variants[name] = tokenizers.Tokenizer.from_str(json.dumps(v))

    cases = []
    for i, text in enumerate(prompts()):
        enc = hf(text, add_special_tokens=True)
        ids = enc["input_ids"]
        assert ids == plain.encode(text, add_special_tokens=True).ids, text
        assert enc["attention_mask"] == [1] * len(ids)
        case = {"text": text, "ids": ids}
        for name, tok in variants.items():
            vids = tok.encode(text).ids
            if vids != ids:
                case.setdefault("variants", {})[name] = vids
        if i % 10 == 0 or len(ids) > MAX_LENGTH:
            padded = hf(text, padding="max_length", max_length=MAX_LENGTH,
                        truncation=True, add_special_tokens=True)
            case["ids_512"] = padded["input_ids"]
            case["mask_512"] = padded["attention_mask"]
        cases.append(case)
    with open(os.path.join(outdir, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/make_tokenizer_fixtures.py",
                   "tokenizers": tokenizers.__version__,
                   "transformers": transformers.__version__,
                   "max_length": MAX_LENGTH, "variants": VARIANTS,
                   "cases": cases}, f,
                  ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("%d cases, %d over %d tokens" % (
        len(cases), sum(len(c["ids"]) > MAX_LENGTH for c in cases), MAX_LENGTH))


if __name__ == "__main__":
    main()
