import { enginePanel } from './engine';
import { generatePanel } from './generate';
import { kvPanel } from './kv';
import type { Panel } from './panel';
import { modelPanel } from './model';
import { tokenizerPanel } from './tokenizer';

/** The playground's tabs, in order. */
export const PANELS: Panel[] = [generatePanel, modelPanel, tokenizerPanel, kvPanel, enginePanel];
