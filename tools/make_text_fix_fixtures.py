#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Makes tests/fixtures/tokenizer/text-fix.json: what diffusers' Wan prompt
cleaning makes of >= 2000 prompts, and the ids the fixture tokenizer
(tests/fixtures/tokenizer/tokenizer.json) gives the cleaned text.

Each case: "text" (the prompt), "ftfy" (ftfy.fix_text of it, left out when
equal to "clean"), "clean" (diffusers' prompt_clean) and "ids". The prompts
stress what ftfy changes: curly quotes and dashes, mojibake of many kinds,
HTML references, fullwidth forms, ligatures, control characters, and what it
must leave alone: CJK, emoji, combining marks. Fixed seed: two runs give
identical files.

usage: pip install ftfy==6.3.1 tokenizers==0.22.2
       python3 tools/make_text_fix_fixtures.py [OUT.json]
"""
import html
import html.entities
import json
import os
import random
import re
import sys
import unicodedata

import ftfy
import tokenizers

SEED = 20251204
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "tests", "fixtures", "tokenizer")


# diffusers 0.35.2, pipelines/wan/pipeline_wan.py, verbatim.
def basic_clean(text):
    text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text))
    return text.strip()


def whitespace_clean(text):
    text = re.sub(r"\s+", " ", text)
    text = text.strip()
    return text


def prompt_clean(text):
    text = whitespace_clean(basic_clean(text))
    return text


WORDS = ("a cat walks on the beach at sunset slowly camera pans over the old "
         "city street neon lights rain reflection cinematic drone shot of "
         "mountains forest river golden hour close up portrait of a woman "
         "smiling dog running in the snow").split()
ACCENTED = ("café naïve résumé piñata façade über Straße crème brûlée "
            "São Paulo Málaga Zürich jalapeño déjà vu Ångström Øresund "
            "Kraków Łódź Dvořák Škoda Ğ İstanbul Αθήνα Москва Київ "
            "à la mode voilà fiancée").split()
CURLY = ["\u2018", "\u2019", "\u201a", "\u201b", "\u201c", "\u201d",
         "\u201e", "\u201f", "\u02bc", "\u2032", "\u2033", "\u2013", "\u2014",
         "\u2015", "\u2026", "\u00ab", "\u00bb", "\u2039", "\u203a"]
CJK = ("一只猫在海滩上散步日落时分镜头缓慢移动城市街道霓虹灯雨夜反射"
       "电影感航拍山脉森林河流金色时光特写微笑的女人狗在雪中奔跑"
       "ねこがうみべをあるくカメラゆっくり東京の夜景한국어고양이해변")
EMOJI = ["😀", "🎬", "🌅", "🐱", "👍🏽", "👩‍💻", "🇯🇵", "❤️", "✨", "🚀",
         "🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",
         "1️⃣", "👨‍👩‍👧", "©", "®", "™", "‼"]
FULLWIDTH = "ＡＢＣａｂｃ０１２３！？，．：；（）＂＇　＜＞＆ｰｱｲｳｶﾞﾟﾞ￥￡￤￣"
LIGATURES = "ﬀﬁﬂﬃﬄﬅﬆĲĳŉǱǲǳǄǅǆǇǈǉǊǋǌ"
CONTROLS = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1a",
            "\x1b", "\x1c", "\x1f", "\x7f", "\x80", "\x81", "\x85", "\x8d",
            "\x91", "\x92", "\x93", "\x94", "\x96", "\x9d", "\x9f", "\ufeff",
            "\u200b", "\u200c", "\u200d", "\u200e", "\u202e", "\u206a",
            "\u206f", "\ufff9", "\ufffc", "\ufffd", "\u2028", "\u2029",
            "\r", "\r\n", "\n", "\t", "\x1b[31m", "\x1b[0m", "\x1b[1;32m",
            "\x1b[", "\x1b[12", "\x1b[\u0661m"]
SPACES = [" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2003", "\u2009",
          "\u202f", "\u205f", "\u1680", "\u180e", "\x1c", "\x1d", "\x1e",
          "\x1f", "\x85", "\x0b", "\x0c"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "o\u0302\u0323", "A\u030a",
             "\u0915\u094d\u0937", "\u1100\u1161\u11a8", "\u0301",
             "i\u0307", "\u212b", "\u2126", "\u0344", "\uf900", "\u0958"]
# Encodings mojibake comes from: ftfy's own, and ones it cannot fix.
MOJIBAKE_ENCODINGS = ["latin-1", "windows-1252", "windows-1252", "windows-1252",
                      "windows-1251", "windows-1250", "windows-1253",
                      "windows-1254", "windows-1257", "iso-8859-2",
                      "mac_roman", "cp437", "iso-8859-15", "koi8_r"]
ENTITY_NAMES = sorted(html.entities.html5)
NUMERIC_REFS = ["&#39;", "&#x27;", "&#8217;", "&#x2019;", "&#X2019;", "&#0;",
                "&#13;", "&#128;", "&#x80;", "&#150;", "&#x9d;", "&#1;",
                "&#11;", "&#59;", "&#x3b;", "&#55357;", "&#xD83D;",
                "&#1114111;", "&#1114112;", "&#x110000;", "&#65535;",
                "&#xFDD0;", "&#99999999999999999999;", "&#0000065;", "&#65",
                "&#x41", "&#x41g;", "&#12ab;", "&#abc;", "&#;", "&#x;", "&#",
                "&#128512;", "&#x1F600;", "&#32;", "&#160;", "&#x3000;"]
ODD_REFS = ["&amp", "&ampx;", "&amp;amp;", "&amp;lt;", "&AMP;", "&Amp;",
            "&notit;", "&notin;", "&not", "&EACUTE;", "&eacute", "&SZLIG;",
            "&NTILDE;", "&nTILDE;", "&Jscr;", "&HilbertSpace;", "&checkmark;",
            "&lt;b&gt;", "&unknown;", "&;", "& amp;", "&&amp;",
            "&abcdefghijklmnopqrstuvwxyz0123456789;", "&macr;\\_(ã\x83\x84)_/&macr;",
            "&nbsp;&nbsp;", "&mdash;", "&hellip;", "&ldquo;x&rdquo;",
            "&lsquo;", "&rsquo;", "&#x2019;s", "&quot;", "&apos;",
            "&NotNestedGreaterGreater;", "&ThickSpace;", "&fjlig;",
            "&acE;", "&bne;"]
KNOWN_MOJIBAKE = [
    "cafÃ©", "the catâ€™s toy", "â€œredâ€\x9d", "â€œredâ€�", "â€œ like this â€�",
    "âœ” No problems", "sÃ³", "voilÃ le travail", "Ã la mode", "Ã  la mode",
    "fÃ cil", "Ã s vezes", "Ã quele", "Ãºnico", "Ã\xa0 la", "crÃ¨me brÃ»lÃ©e",
    "IÃ±tÃ«rnÃ¢tiÃ´nÃ lizÃ¦tiÃ¸n", "Ã¢â‚¬Å“doubleÃ¢â‚¬Â\x9d", "Ã¢â‚¬â„¢",
    "ÐŸÑ€Ð¸Ð²ÐµÑ‚", "Ð¿Ñ€Ð¸Ð²ÐµÑ‚ Ð¼Ð¸Ñ€", "Ã¼ber", "Ã\x83Â©", "Ãƒâ€šÃ‚Â©",
    "ГўВЂВњquotesГўВЂВќ", "вЂњquotesвЂќ", "вЂ™", "Î²â‚¬â„¢", "ā€™",
    "â€\"", "â€“", "â€”", "Â£100", "Â©2024", "Â½ cup", "30Â°C", "Ã—2",
    "ÂÂ", "Â Â", "a Â b", "fish Â chips", "Ãƒ", "ðŸ˜€", "ðŸ‘\x8d", "ðŸ",
    "ðŸ‡¯ðŸ‡µ", "í\xa0½í¸\x8d", "í ½í¸\x8d", "À€", "Ã\x80", "Ð\x9f",
    "Ã?", "QUÃ?", "Ã¢?", "â€?", "ã?", "Ã©Ã©Ã©", "ÃƒÂ©", "Ã¡Ã©Ã\xadÃ³Ãº",
    "Ø§Ù„Ø¹Ø±Ø¨ÙŠØ©", "à¤¨à¤®à¤¸à¥\x8dà¤¤à¥‡", "à²¨", "à¸ªà¸§à¸±à¸ª",
    "æ—¥æœ¬èªž", "ä¸\xadæ–‡", "í•œêµ\xadì–´", "Ã¦Â—Â¥Ã¦ÂœÂ¬",
    "Î•Î»Î»Î·Î½Î¹ÎºÎ¬", "Ä\x8deÅ¡tina", "Å\x81Ã³dÅº", "Ä°stanbul",
    "Ã¥ngstrÃ¶m", "â”‚ box â”‚", "â–ˆâ–ˆ", "Ã\x83Â\x83Ã\x82Â©", "Ã© ç",
    "√©", "‚Äú", "‚Äôs", "Ã©\n", "cafÃ©\nnaÃ¯ve\n", "<b>cafÃ©</b>",
    "Â¯\\_(ã\x83\x84)_/Â¯", "Ã\xa0", "Ã¡", "Â»", "Âº", "â€¢ item",
    "Ã‚Â·", "âˆ’", "Ã¸", "âˆš", "Ð¡Ð", "Ñ\x81Ñ", "Ã¤Ã¶Ã¼ÃŸ",
    # Lossy 4-byte sequences: a '?' in each place.
    "ð?˜€", "ðŸ?€ x", "ðŸ˜?", "ðŸ‘?", "ðŸ?˜€ smile", "рџ?‘Ќ",
    "\xd1\u20ac\xd1\u0178?\xe2\u20ac\u02dc\xd0\ufffd\xd0\xb2\xd0\u201a\xd0"
    "\u0152\xd1\u20ac\xd1\u0178\xe2\u20ac\u02dc\xc2\xa9",
]


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def unicode_text(rng, n):
    pools = [WORDS, ACCENTED, CURLY, list(CJK), EMOJI, list(FULLWIDTH),
             list(LIGATURES), COMBINING, SPACES]
    return "".join(rng.choice(rng.choice(pools)) +
                   (" " if rng.random() < 0.5 else "") for _ in range(n))


def mojibake(rng, text):
    enc = rng.choice(MOJIBAKE_ENCODINGS)
    data = text.encode("utf-8")
    out = data.decode(enc, errors="replace")
    r = rng.random()
    if r < 0.15:
        out = out.replace("\xa0", " ")
    elif r < 0.25 and enc == "windows-1252":
        out = data.decode("windows-1252", errors="replace")
    elif r < 0.35:
        out = mojibake(rng, out) if len(out) < 200 else out
    return out


def entity(rng):
    r = rng.random()
    if r < 0.45:
        name = rng.choice(ENTITY_NAMES)
        if rng.random() < 0.2:
            name = name.upper()
        return "&" + name
    if r < 0.75:
        return rng.choice(NUMERIC_REFS)
    if r < 0.9:
        return rng.choice(ODD_REFS)
    c = rng.randint(0, 0x10FFFF if rng.random() < 0.2 else 0x3000)
    return ("&#x%X;" if rng.random() < 0.5 else "&#%d;") % c


def fuzz_char(rng):
    """A character near ftfy's interests: mojibake, controls, punctuation."""
    r = rng.random()
    if r < 0.5:
        return chr(rng.choice([rng.randint(0x80, 0x17F), rng.randint(0x370, 0x45F),
                               rng.randint(0x2010, 0x2044),
                               rng.randint(0x2500, 0x2593)]))
    if r < 0.7:
        return rng.choice("ÂÃÎÐØÙàâ€œŠš¢£Ÿž®©°·»–—´²³ВГРСΒΓΞΟвЂβā√≈‚Äîñ ")
    if r < 0.85:
        return chr(rng.randint(0x20, 0x7E))
    if r < 0.95:
        return rng.choice(CONTROLS + SPACES)
    c = rng.randint(0xA0, 0x2FFFF)
    return chr(c) if not 0xD800 <= c <= 0xDFFF else "\ufffd"


def prompts():
    rng = random.Random(SEED)
    out = ["", " ", "\n", "a", "the cat\u2019s toy", "\u201cred\u201d",
           "cafÃ©", "\u2018single\u2019 \u201cdouble\u201d \u201elow\u201c",
           "em\u2014dash en\u2013dash", "ＬＯＵＤ　ＮＯＩＳＥＳ", "Ｕﾀｰﾝ",
           "ﬂuﬃeﬆ", "Broken text&hellip; it&#x2019;s ﬂubberiﬁc!",
           "&macr;\\_(ã\x83\x84)_/&macr;", "P&EACUTE;REZ",
           "BUNDESSTRA&SZLIG;E", "&ntilde; &Ntilde; &NTILDE; &nTILDE;",
           "a &amp;amp; b", "<b>bold</b> &amp;", "line one &amp;\n<i>two</i> &amp;",
           "x &lt; y\n&amp; z", "\x1b[36;44mI'm blue\x1b[0m",
           "This string is made of two things:\u20291. Unicode\u20282. Spite",
           "What is this \x85 I don't even", "Content-type: text/plain\r\n\r\nHi.",
           "\ufeffBOM first", "e\u0301 vs \u00e9", "👩‍💻 coding 🇯🇵",
           "一只猫在海滩上散步", "한국어 고양이", "Привет мир"]
    out += KNOWN_MOJIBAKE
    out += [words(rng, 3) + " " + m + " " + words(rng, 2) for m in KNOWN_MOJIBAKE]
    for _ in range(250):  # curly quotes and dashes in sentences
        s = words(rng, rng.randint(2, 12))
        for _ in range(rng.randint(1, 4)):
            i = rng.randint(0, len(s))
            s = s[:i] + rng.choice(CURLY) + s[i:]
        out.append(s)
    for _ in range(500):  # mojibake of text with non-ASCII in it
        clean = unicode_text(rng, rng.randint(1, 8))
        s = mojibake(rng, clean)
        if rng.random() < 0.4:  # embedded in clean text
            s = words(rng, rng.randint(1, 5)) + " " + s + " " + words(rng, 2)
        if rng.random() < 0.15:  # mixed with clean non-ASCII text
            s = unicode_text(rng, 2) + s
        out.append(s)
    for _ in range(300):  # HTML references
        s = ""
        for _ in range(rng.randint(1, 4)):
            s += words(rng, rng.randint(0, 3)) + rng.choice(["", " "]) + entity(rng)
        if rng.random() < 0.1:
            s = s.replace(" ", "\n", 1) + " <" if rng.random() < 0.5 else "<" + s
        out.append(s)
    for _ in range(150):  # fullwidth, halfwidth and ligatures
        out.append("".join(rng.choice([rng.choice(FULLWIDTH), rng.choice(LIGATURES),
                                       " ", rng.choice(WORDS)])
                           for _ in range(rng.randint(1, 12))))
    for _ in range(200):  # control characters, line breaks, odd spaces
        s = words(rng, rng.randint(1, 8))
        for _ in range(rng.randint(1, 5)):
            i = rng.randint(0, len(s))
            s = s[:i] + rng.choice(CONTROLS + SPACES) + s[i:]
        out.append(s)
    for _ in range(250):  # CJK, emoji, combining marks: mostly left alone
        out.append(unicode_text(rng, rng.randint(1, 15)))
    for _ in range(500):  # everything mixed, near ftfy's heuristics
        out.append("".join(fuzz_char(rng) for _ in range(rng.randint(1, 12))))
    for _ in range(100):  # long mixed prompts
        parts = [words(rng, 10), mojibake(rng, unicode_text(rng, 4)),
                 entity(rng), unicode_text(rng, 5), rng.choice(CURLY) * 2]
        rng.shuffle(parts)
        out.append(rng.choice([" ", "\n", "  "]).join(parts))
    # U+0000 cannot be in a C string; lone surrogates cannot be in UTF-8.
    return [p for p in out if "\x00" not in p]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        FIXTURES, "text-fix.json")
    tok = tokenizers.Tokenizer.from_file(os.path.join(FIXTURES,
                                                      "tokenizer.json"))
    cases = []
    changed = 0
    for text in prompts():
        clean = prompt_clean(text)
        case = {"text": text}
        fixed = ftfy.fix_text(text)
        changed += fixed != text
        if fixed != clean:
            case["ftfy"] = fixed
        case["clean"] = clean
        case["ids"] = tok.encode(clean).ids
        cases.append(case)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/make_text_fix_fixtures.py",
                   "ftfy": ftfy.__version__,
                   "tokenizers": tokenizers.__version__,
                   "unicode": unicodedata.unidata_version,
                   "cases": cases}, f, ensure_ascii=False,
                  separators=(",", ":"))
        f.write("\n")
    print("%d cases, %d changed by ftfy" % (len(cases), changed))


if __name__ == "__main__":
    main()
