import { enginePanel } from './engine';
import type { Panel } from './panel';
import { modelPanel } from './model';

/** The playground's tabs, in order. */
export const PANELS: Panel[] = [modelPanel, enginePanel];
