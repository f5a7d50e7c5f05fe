/**
 * The int8 KV cache as WGSL, CPU reference `kvquant.ts` beside this file (the same scheme:
 * symmetric, one f32 scale per (token, KV head), s = max|row| · f32(1/127), q = round(x / s) with
 * halves rounded up, read back as q · s).
 *
 * On the GPU the int8 values are packed four to a u32 word, element 4i + b in byte b (so a
 * row of hd values is hd/4 words, and the vec4 at index i of an f32 row is word i), and the
 * scales are f32 [ctx, Kv]:
 *   kvQuant     — quantises the K and V rows of this forward ([T, Kv, hd] each, f32, as the
 *                 rope kernel wrote them) into the cache at slots start + t. One thread per
 *                 (row, K|V): grid (⌈T·2·Kv / 64⌉).
 *   int8KvRead  — turns an attention kernel over the f32 cache into the same kernel over the
 *                 int8 cache: the kc / vc bindings become u32 words, their scales are bound
 *                 after the kernel's own buffers (ks, vs), and every read kc[i] / vc[i] becomes
 *                 the dequantised value. The f32 kernels themselves stay as they are.
 */
import { paramsWgsl, STEP_WGSL, type KernelSource } from '../../wgsl/kernel-source';
import { INV_127 } from './kvquant';

export const KVQUANT_FIELDS = ['Kv', 'hd'] as const;

/** WGSL: quantises one row of `src` (hd values from xb) into word row `dst` of `q` and its scale into `sc[row]`. */
function quantRow(name: string, src: string, q: string, sc: string): string {
  return /* wgsl */ `fn ${name}(xb: u32, row: u32) {
  let hd = p.hd;
  var m = 0.0;
  for (var i = 0u; i < hd; i++) { m = max(m, abs(${src}[xb + i])); }
  let scale = m * ${INV_127.toPrecision(9)}; // f32(1/127), as the CPU reference multiplies
  ${sc}[row] = scale;
  let wb = row * (hd / 4u);
  for (var w = 0u; w < hd / 4u; w++) {
    var word = 0u;
    if (scale != 0.0) {
      for (var b = 0u; b < 4u; b++) {
        let v = ${src}[xb + 4u * w + b] / scale;
        let f = floor(v);
        // round half up (JavaScript's Math.round): v − floor(v) is exact
        let r = clamp(f + select(0.0, 1.0, v - f >= 0.5), -127.0, 127.0);
        word |= (bitcast<u32>(i32(r)) & 0xffu) << (8u * b);
      }
    }
    ${q}[wb + w] = word;
  }
}`;
}

export function kvQuantWgsl(): KernelSource {
  const code = /* wgsl */ `
${STEP_WGSL}
${paramsWgsl(KVQUANT_FIELDS)}
@group(0) @binding(2) var<storage, read> kx: array<f32>;        // [T, Kv, hd] this forward's keys
@group(0) @binding(3) var<storage, read> vx: array<f32>;        // [T, Kv, hd] values
@group(0) @binding(4) var<storage, read_write> kq: array<u32>;  // [ctx, Kv, hd/4] int8 ×4
@group(0) @binding(5) var<storage, read_write> vq: array<u32>;  // [ctx, Kv, hd/4]
@group(0) @binding(6) var<storage, read_write> ks: array<f32>;  // [ctx, Kv] scales
@group(0) @binding(7) var<storage, read_write> vs: array<f32>;  // [ctx, Kv]

${quantRow('quantK', 'kx', 'kq', 'ks')}
${quantRow('quantV', 'vx', 'vq', 'vs')}

// One thread per (row t, K|V, KV head): grid (⌈T·2·Kv / 64⌉).
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let per = 2u * p.Kv;
  let t = gid.x / per;
  if (t >= s.T) { return; }
  let r = gid.x % per;
  let h = r % p.Kv;
  let xb = (t * p.Kv + h) * p.hd;
  let row = (s.start + t) * p.Kv + h;
  if (r < p.Kv) { quantK(xb, row); } else { quantV(xb, row); }
}
`;
  return { label: 'kv-quant-int8', code, bindings: ['kx', 'vx', 'kq', 'vq', 'ks', 'vs'], fields: KVQUANT_FIELDS };
}

/** The element type of a GPU model's KV cache. */
export type GpuKvDtype = 'f32' | 'int8';

/**
 * `k` (an attention kernel reading the f32 cache through bindings kc and vc, f32 or vec4<f32>
 * elements) as the same kernel over the int8 cache: kc / vc hold u32 words of four int8, the
 * scales ks / vs [ctx, Kv] are bound after the kernel's buffers, and each kc[i] / vc[i] reads
 * the dequantised element (or vec4) i. The row of element i is i / hd (vec4: i / (hd/4)), from
 * the kernel's params `p.hd`. `f32` returns `k` unchanged.
 */
export function withKvDtype(k: KernelSource, dtype: GpuKvDtype): KernelSource {
  if (dtype === 'f32') return k;
  if (k.bindingNumbers) throw new RangeError(`${k.label}: int8 KV needs sequential bindings`);
  const decl = (name: string) => new RegExp(`var<storage, read> ${name}: array<(vec4<f32>|f32)>;`);
  let code = k.code;
  const extra: string[] = [];
  const fns: string[] = [];
  let next = 2 + k.bindings.length;
  for (const [name, scales, load] of [
    ['kc', 'kScale', 'kcAt'],
    ['vc', 'vScale', 'vcAt'],
  ] as const) {
    const m = decl(name).exec(code);
    if (!m) continue;
    const vec = m[1] === 'vec4<f32>';
    code = code.replace(decl(name), `var<storage, read> ${name}: array<u32>;`);
    code = code.replace(new RegExp(`\\b${name}\\[([^\\]]*)\\]`, 'g'), `${load}($1)`);
    extra.push(`@group(0) @binding(${next++}) var<storage, read> ${scales}: array<f32>; // [ctx, Kv] int8 scales of ${name}`);
    extra.push(scales);
    fns.push(
      vec
        ? `fn ${load}(i: u32) -> vec4<f32> { return kvUnpack4(${name}[i]) * ${scales}[i / (p.hd / 4u)]; }`
        : `fn ${load}(e: u32) -> f32 { return f32(bitcast<i32>(${name}[e >> 2u] << (24u - 8u * (e & 3u))) >> 24u) * ${scales}[e / p.hd]; }`,
    );
  }
  if (!fns.length) throw new RangeError(`${k.label}: no KV cache binding (kc, vc) to read as int8`);
  const names = extra.filter((_, i) => i % 2 === 1);
  const decls = extra.filter((_, i) => i % 2 === 0);
  const helpers = `${decls.join('\n')}
// four int8 in one word, byte b = element b, sign-extended
fn kvUnpack4(w: u32) -> vec4<f32> {
  let b = vec4<i32>(bitcast<i32>(w << 24u), bitcast<i32>(w << 16u), bitcast<i32>(w << 8u), bitcast<i32>(w));
  return vec4<f32>(b >> vec4<u32>(24u));
}
${fns.join('\n')}
`;
  // after the last binding declaration (the helpers read the bindings and P)
  const lastBinding = [...code.matchAll(/@group\(0\) @binding\(\d+\)[^\n]*\n/g)].pop()!;
  const at = lastBinding.index! + lastBinding[0].length;
  code = code.slice(0, at) + helpers + code.slice(at);
  return { ...k, label: `${k.label}-kv8`, code, bindings: [...k.bindings, ...names] };
}
