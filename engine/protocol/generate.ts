/**
 * Generate: the worker runs the active model on a prompt (engine/generate's decode
 * loop) and streams the text back; Stop ends it between tokens.
 */
import type { StopReason } from '../generate/stopping';
import { num, str, type ReplyTable, type MessageParsers } from './validate';

/** Why a generation ended, as the Generate panel shows it (a custom criterion reads as 'stop'). */
export type GenerateStopReason = Exclude<StopReason, 'criterion'>;

const STOP_REASONS: readonly GenerateStopReason[] = ['stop', 'length', 'context', 'stopString', 'cancelled'];

/** Webview -> worker. */
export type GenerateWorkerRequest =
  | { type: 'generate'; id: number; prompt: string; maxTokens: number; stop: string[] }
  /** Stops the generation with this id (0: whichever runs). */
  | { type: 'stopGenerate'; id: number };

/** Worker -> webview. */
export type GenerateWorkerMessage =
  /** A long prompt is read in chunks: `done` of its `total` ids are in the cache (Stop is honoured between chunks). */
  | { type: 'genProgress'; id: number; done: number; total: number }
  | { type: 'genText'; id: number; text: string; tokens: number; tokensPerSec: number }
  | { type: 'genDone'; id: number; text: string; tokens: number; promptTokens: number; tokensPerSec: number; stopReason: GenerateStopReason }
  | { type: 'genError'; id: number; message: string };

/** The worker's answers to each request. */
export interface GenerateWorkerReplies {
  generate: 'genProgress' | 'genText' | 'genDone' | 'genError';
  /** Answered by the generation's own `genDone` (stopReason 'cancelled'). */
  stopGenerate: never;
}

export const GENERATE_REPLIES: ReplyTable<GenerateWorkerReplies> = {
  generate: { replies: ['genProgress', 'genText', 'genDone', 'genError'], last: ['genDone', 'genError'] },
  stopGenerate: { replies: [], last: [] },
};

export const generateWorkerParsers: MessageParsers<GenerateWorkerMessage> = {
  genProgress: (raw) => ({ type: 'genProgress', id: num(raw, 'id')!, done: num(raw, 'done')!, total: num(raw, 'total')! }),
  genText: (raw) => ({ type: 'genText', id: num(raw, 'id')!, text: str(raw, 'text')!, tokens: num(raw, 'tokens')!, tokensPerSec: num(raw, 'tokensPerSec')! }),
  genDone: (raw) => {
    const stopReason = STOP_REASONS.includes(raw.stopReason as GenerateStopReason) ? (raw.stopReason as GenerateStopReason) : 'length';
    return {
      type: 'genDone',
      id: num(raw, 'id')!,
      text: str(raw, 'text')!,
      tokens: num(raw, 'tokens')!,
      promptTokens: num(raw, 'promptTokens')!,
      tokensPerSec: num(raw, 'tokensPerSec')!,
      stopReason,
    };
  },
  genError: (raw) => ({ type: 'genError', id: num(raw, 'id')!, message: str(raw, 'message')! }),
};
