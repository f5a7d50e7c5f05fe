import { enginePanel } from './engine';
import { generatePanel } from './generate';
import { labPanel } from './lab';
import { insidePanel } from './inside';
import { kvPanel } from './kv';
import type { Panel } from './panel';
import { modelPanel } from './model';
import { tokenizerPanel } from './tokenizer';
import { xcheckPanel } from './xcheck';

/** The playground's tabs, in order. */
export const PANELS: Panel[] = [generatePanel, modelPanel, tokenizerPanel, enginePanel, labPanel, insidePanel, kvPanel, xcheckPanel];
