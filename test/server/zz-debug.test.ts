import { it } from 'vitest';
import { apiWithTokens, startHarness, READER, call } from './helpers';
it('t', async () => {
  const h = await startHarness(apiWithTokens({ public_reads: false }));
  let t = Date.now();
  const r = await call(h.server, 'GET', `/api/targets?access_token=${READER}`);
  console.log('call', r.status, Date.now() - t); t = Date.now();
  await h.close();
  console.log('close', Date.now() - t);
});
