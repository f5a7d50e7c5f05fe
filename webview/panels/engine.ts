/** The Engine panel: which path runs (WebGPU adapter and limits, or the CPU and why). */
import { button, el, fmtBytes, kvTable } from '../dom';
import { engineState, startEngine } from '../engine';
import { request } from '../host';
import type { Panel } from './panel';

export const enginePanel: Panel = {
  id: 'engine',
  title: 'Engine',
  render(): HTMLElement {
    const box = el('section', { id: 'engine', 'aria-labelledby': 'engine-h' });
    box.append(el('h2', { id: 'engine-h' }, 'Engine'));
    const s = engineState();
    if (s.error) {
      box.append(
        el('div', { class: 'error', role: 'alert', id: 'engine-error' }, s.error),
        button('Retry', 'refresh', () => void startEngine()),
        button('Show log', 'output', () => void request({ method: 'openLog' })),
      );
      return box;
    }
    const env = s.env;
    if (!env) {
      box.append(el('p', { class: 'muted', id: 'engine-probing' }, el('vscode-progress-ring', { 'aria-label': 'probing' }), ' Looking for a WebGPU adapter…'));
      return box;
    }
    if (env.backend === 'webgpu') {
      const a = env.adapter!;
      box.append(el('p', { id: 'engine-status', 'data-backend': 'webgpu' }, el('vscode-badge', { variant: 'counter' }, 'WebGPU'), ` Running on ${[a.vendor, a.architecture].filter(Boolean).join(' / ') || 'an unnamed adapter'}`));
      const rows: [string, string][] = [
        ['Vendor', a.vendor || '—'],
        ['Architecture', a.architecture || '—'],
        ['Device', a.device || '—'],
        ['Description', a.description || '—'],
        ['Fallback adapter', a.isFallbackAdapter ? 'yes (software)' : 'no'],
        ['maxStorageBufferBindingSize', fmtBytes(env.limits?.maxStorageBufferBindingSize)],
        ['maxBufferSize', fmtBytes(env.limits?.maxBufferSize)],
        ['Workgroup storage', fmtBytes(env.limits?.maxComputeWorkgroupStorageSize)],
        ['Invocations per workgroup', String(env.limits?.maxComputeInvocationsPerWorkgroup ?? '—')],
        ['shader-f16', env.features?.includes('shader-f16') ? 'yes (f16 weights are read as f16)' : 'no (f16 weights are unpacked from u32)'],
        ['subgroups', env.features?.includes('subgroups') ? 'yes' : 'no'],
        ['Features', (env.features ?? []).join(', ') || '—'],
      ];
      if (env.selfTest) rows.push(['Self-test', `${env.selfTest.op}: max |GPU − CPU| = ${env.selfTest.maxAbsDiff.toExponential(2)} ${env.selfTest.ok ? '✓' : '✗'}`]);
      box.append(kvTable(rows, 'engine-table'));
    } else {
      box.append(
        el('p', { id: 'engine-status', 'data-backend': 'cpu' }, el('vscode-badge', { variant: 'counter' }, 'CPU'), ' The CPU path will be used.'),
        el('p', { class: 'muted', id: 'engine-reason' }, env.reason ?? ''),
      );
    }
    box.append(button('Probe again', 'refresh', () => void startEngine()));
    return box;
  },
};
