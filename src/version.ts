import { readFileSync } from 'node:fs';
import { PROJECT_ROOT } from './scenario/load.js';
import { join } from 'node:path';

export const SELLOUT_VERSION: string = (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
