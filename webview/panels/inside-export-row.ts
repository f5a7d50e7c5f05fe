/**
 * The Inside panel's export buttons: the heatmap on screen as PNG, its values as CSV or
 * JSON (webview/inside-export.ts), saved through the host's save dialog (one exportFile
 * request, as the decoding lab's); the note beside them says where it went.
 */
import { button, el } from '../dom';
import { request } from '../host';
import { activeSummary } from '../models';
import { dataUrlBase64, exportName, headName, tileCsv, tileJson } from '../inside-export';
import { currentHead, data } from './inside';

/** Saves the heatmap (PNG) or the values on screen (CSV / JSON); the answer goes to `note`. */
async function exportHeat(format: 'png' | 'csv' | 'json', heat: HTMLCanvasElement, note: HTMLElement): Promise<void> {
  const t = data.tile;
  const { layer, head } = currentHead();
  if (!t || t.layer !== layer || t.head !== head) {
    note.textContent = 'Run the model and wait for the heatmap: the export is what it shows.';
    return;
  }
  const piece = (i: number) => data.info?.tokens[i]?.piece ?? String(i);
  const content = format === 'png' ? dataUrlBase64(heat.toDataURL('image/png')) : format === 'csv' ? tileCsv(t, piece) : tileJson(t, piece, activeSummary()?.name);
  const what = format === 'png' ? 'heatmap' : 'attention values';
  try {
    const where = await request({
      method: 'exportFile',
      format,
      content,
      suggestedName: exportName(t, format),
      title: `Export the ${what} (layer ${t.layer}, ${headName(t.head)})`,
    });
    note.textContent = where ? `Saved ${where}` : 'Export cancelled.';
  } catch (e) {
    note.textContent = `Export failed: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** Export PNG / CSV / JSON buttons and their note. */
export function insideExportRow(heat: HTMLCanvasElement): HTMLElement {
  const note = el('span', { id: 'inside-export-note', class: 'muted', 'aria-live': 'polite' });
  const go = (format: 'png' | 'csv' | 'json') => () => void exportHeat(format, heat, note);
  const png = button('Export PNG', 'device-camera', go('png'));
  png.id = 'inside-export-png';
  const csv = button('Export CSV', 'table', go('csv'));
  csv.id = 'inside-export-csv';
  const json = button('Export JSON', 'json', go('json'));
  json.id = 'inside-export-json';
  return el('div', { class: 'row' }, png, csv, json, note);
}
