// undici's index also loads fetch, WebSocket and caches (~530 KB of the bundle); the Lambda needs only the Pool.
import type { Pool as UndiciPool } from 'undici';
import PoolModule from 'undici/lib/dispatcher/pool.js';

export const Pool = PoolModule as unknown as typeof UndiciPool;
export type Pool = UndiciPool;
