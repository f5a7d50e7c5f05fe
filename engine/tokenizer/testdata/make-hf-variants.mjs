// Regenerates the `expected` part of hf-variants.json with Hugging Face tokenizers (Rust core).
// Not part of the project's dependencies: run it from the repo root with the npm package
// "tokenizers" (the official HF Node binding) installed in some other folder, e.g.
//   (cd /tmp/hf && npm i tokenizers@0.23.2)
//   NODE_PATH=/tmp/hf/node_modules node engine/tokenizer/testdata/make-hf-variants.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
const require = createRequire(process.env.NODE_PATH ? `${process.env.NODE_PATH}/` : import.meta.url);
const { Tokenizer } = require('tokenizers');
const file = new URL('./hf-variants.json', import.meta.url);
const data = JSON.parse(readFileSync(file, 'utf8'));
export function buildVariant(v) {
  const j = JSON.parse(readFileSync(`../shared/fixtures/tokenizers/${v.base}/tokenizer.json`, 'utf8'));
  Object.assign(j, v.set ?? {});
  Object.assign(j.model, v.model ?? {});
  j.added_tokens.push(...(v.added ?? []));
  return j;
}
for (const [name, v] of Object.entries(data.variants)) {
  const tok = Tokenizer.fromString(JSON.stringify(buildVariant(v)));
  const cases = [];
  for (const text of data.texts) {
    const plain = await tok.encode(text, null, { addSpecialTokens: false });
    const special = await tok.encode(text, null, { addSpecialTokens: true });
    const ids = plain.getIds();
    cases.push({
      text,
      ids,
      tokens: plain.getTokens(),
      offsets: plain.getOffsets(),
      ids_with_special: special.getIds(),
      offsets_with_special: special.getOffsets(),
      decoded: await tok.decode(special.getIds(), false),
      decoded_skip: await tok.decode(special.getIds(), true),
    });
  }
  data.expected[name] = cases;
}
writeFileSync(file, JSON.stringify(data));
console.log('wrote', Object.keys(data.expected).length, 'variants');
