/**
 * The Engine panel: which backend runs and why (the same answer as the status bar and
 * the Generate tab: currentBackend), then the WebGPU adapter found, with its limits.
 */
import { button, el, fmtBytes, kvTable } from '../dom';
import { engineState, startEngine } from '../engine';
import { request } from '../host';
import { currentBackend, onModelsState } from '../models';
import type { Panel } from './panel';

export const enginePanel: Panel = {
  id: 'engine',
  title: 'Engine',
  init(rerender) {
    onModelsState(() => rerender());
  },
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
    const d = currentBackend()!;
    box.append(
      el(
        'p',
        { id: 'engine-status', 'data-backend': d.backend, 'data-adapter': env.backend, 'data-software': String(d.software), 'data-ort': d.ort ?? '' },
        el('vscode-badge', { variant: 'counter' }, d.ort ? d.label : d.backend === 'webgpu' ? 'WebGPU' : 'CPU'),
        ` Runs on: ${d.label}`,
      ),
      el('p', { class: d.backend === 'webgpu' && d.software ? 'warning' : 'muted', id: 'engine-reason' }, d.reason),
    );
    if (env.backend === 'webgpu') {
      const a = env.adapter!;
      box.append(el('h3', { id: 'engine-adapter' }, `WebGPU adapter: ${d.adapter}${d.software ? ' (software)' : ''}`));
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
    }
    box.append(button('Probe again', 'refresh', () => void startEngine()));
    return box;
  },
};
