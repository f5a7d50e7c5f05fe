/**
 * The few globals engine library code may use: ones that every runtime the engine runs in has
 * (Node 20 for the CLI and the extension host, the browser page, the dedicated worker), with
 * only the members the engine uses. tsconfig.engine.json has neither the DOM lib nor Node's
 * types, so that `document`, `window`, `process`, `Buffer`, `require`... are errors in engine
 * library code; this file puts back the shared subset. Declaring them here rather than
 * working around them in the code keeps the code as it is; add a global only when all of
 * those runtimes have it.
 * Only tsconfig.engine.json includes this file: the other configs get these globals from the
 * DOM, WebWorker or Node types, and a second declaration would clash with theirs.
 */

declare var performance: { now(): number };

declare function setTimeout(handler: () => void, timeout?: number): unknown;
declare function clearTimeout(id: unknown): void;

declare function atob(data: string): string;
declare function btoa(data: string): string;

declare class TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array<ArrayBuffer>;
  encodeInto(source: string, destination: Uint8Array): { read: number; written: number };
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: string;
  readonly fatal: boolean;
  readonly ignoreBOM: boolean;
  decode(input?: ArrayBufferLike | ArrayBufferView, options?: { stream?: boolean }): string;
}

/** Blob as the engine reads it (a File is a Blob with a name). */
declare class Blob {
  readonly size: number;
  readonly type: string;
  slice(start?: number, end?: number, contentType?: string): Blob;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
}
