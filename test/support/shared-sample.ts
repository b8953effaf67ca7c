import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..');

/**
 * The shared REES46 sample: NUDGE_SAMPLE_CSV when set, else beside the checkout
 * (`../shared/data`), else the workspace's copy, so a clone anywhere on the machine finds it.
 */
export const SHARED_SAMPLE: string =
  [process.env.NUDGE_SAMPLE_CSV, join(ROOT, '..', 'shared', 'data', '2019-Oct.csv'), '/work/shared/data/2019-Oct.csv'].find(
    (f): f is string => typeof f === 'string' && f !== '' && existsSync(f),
  ) ?? join(ROOT, '..', 'shared', 'data', '2019-Oct.csv');
