/**
 * Export through the host: a panel (the decoding lab, the Inside tab) hands the host a
 * file's content and a suggested name; the host asks where to save it in a save dialog
 * (which asks before replacing a file) and answers with the path, or null when cancelled.
 * Text formats carry the text; a PNG carries its bytes as base64.
 */
import { ProtocolError, describe, str, type RequestParsers } from './validate';

export const EXPORT_FORMATS = ['json', 'csv', 'png'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** Longest exported content (characters; base64 for a PNG). */
export const MAX_EXPORT = 16 * 1024 * 1024;

/** Webview -> host: save a file (the host asks where). `title` names what is saved in the dialog. */
export type ExportRequest = { type: 'request'; id: number; method: 'exportFile'; format: ExportFormat; content: string; suggestedName: string; title: string };

export interface ExportResults {
  /** Where the file was saved, or null when the dialog was cancelled. */
  exportFile: string | null;
}

export const exportRequestParsers: RequestParsers<ExportRequest> = {
  exportFile: (raw, id) => {
    const format = raw.format;
    if (!EXPORT_FORMATS.includes(format as ExportFormat)) throw new ProtocolError(`field "format" must be one of ${EXPORT_FORMATS.join(', ')}, got ${describe(format)}`);
    const content = raw.content;
    if (typeof content !== 'string') throw new ProtocolError(`field "content" must be a string, got ${describe(content)}`);
    if (content.length > MAX_EXPORT) throw new ProtocolError(`field "content" is longer than ${MAX_EXPORT} characters`);
    if (format === 'png' && !/^[A-Za-z0-9+/]*={0,2}$/.test(content)) throw new ProtocolError('field "content" of a PNG must be base64');
    const suggestedName = str(raw, 'suggestedName')!;
    if (!/^[\w.-]{1,100}$/.test(suggestedName)) throw new ProtocolError('field "suggestedName" must be a plain file name (letters, digits, "_", "-", ".")');
    const title = str(raw, 'title')!;
    if (title.length > 200) throw new ProtocolError('field "title" is longer than 200 characters');
    return { type: 'request', id, method: 'exportFile', format: format as ExportFormat, content, suggestedName, title };
  },
};
