// undici's index also loads fetch, WebSocket and caches (~250 KB more in the bundle); the Lambda needs only
// a Pool and its request(). The index adds request() to every dispatcher; here it is added to the Pool alone.
import type { Pool as UndiciPool } from 'undici';
import PoolModule from 'undici/lib/dispatcher/pool.js';
import apiRequest from 'undici/lib/api/api-request.js';

const Base = PoolModule as unknown as typeof UndiciPool;

class RequestPool extends Base {}
Object.defineProperty(RequestPool.prototype, 'request', { value: apiRequest, writable: true, configurable: true });

export const Pool: typeof UndiciPool = RequestPool;
export type Pool = UndiciPool;
