import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createCustodianClient } from '../../../src/custodian/index.ts';
import { loadCustodianConfig } from '../../../src/custodian/internal/config.ts';
import { startCustodian } from '../../../src/custodian/internal/custodian.ts';
import { createHeEngine } from '../../../src/he/index.ts';
import { silentLogger } from '../../../src/shared/index.ts';
import { createTestClock } from '../../../support/clock.ts';
import { enrollAt } from '../../../support/custodian.ts';
import { randomDescriptor } from '../../../support/he-keys.ts';

const dir = mkdtempSync(join(tmpdir(), 'faceid-custodian-inproc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('expires tickets and refills budgets by the clock (injected), over loopback TCP, in demo mode', async () => {
  const clock = createTestClock();
  const secret = 'an in-process test secret of >= 32 bytes';
  const config = loadCustodianConfig({
    CUSTODIAN_KEY_DIR: join(dir, 'keys'),
    CUSTODIAN_LISTEN: '127.0.0.1:0',
    CUSTODIAN_SHARED_SECRET: secret,
    CUSTODIAN_DEMO: '1',
    CUSTODIAN_BUDGET_SUBJECT_PER_HOUR: '3',
    CUSTODIAN_LOG_LEVEL: 'silent',
  });
  const custodian = await startCustodian(config, { logger: silentLogger, clock });
  const address = custodian.address as { host: string; port: number };
  const client = createCustodianClient({ host: address.host, port: address.port, sharedSecret: secret, clock });
  const engine = await createHeEngine();
  try {
    expect(statSync(join(dir, 'keys', 'sealing.key')).mode & 0o777).toBe(0o600);
    const face = randomDescriptor(128);
    const enrolled = await enrollAt(client, engine, face);

    const ticket = await client.ticket(enrolled.subject, enrolled.hash);
    clock.advance(59_000);
    const fresh = await client.ticket(enrolled.subject, enrolled.hash);
    clock.advance(1_001); // the first ticket is now 60.001 s old
    await expect(client.judge(ticket.ticket, engine.matchAndBlind(enrolled.template, face, 0.5, ticket.key))).rejects.toMatchObject({ code: 'custodian_ticket_invalid', status: 403 });
    expect(await client.judge(fresh.ticket, engine.matchAndBlind(enrolled.template, face, 0.5, fresh.key))).toBe('match');

    await client.ticket(enrolled.subject, enrolled.hash);
    await expect(client.ticket(enrolled.subject, enrolled.hash)).rejects.toMatchObject({ code: 'custodian_rate_limited' });
    clock.advance(60 * 60_000); // an hour later the hourly budget has room again
    expect((await client.ticket(enrolled.subject, enrolled.hash)).ticket).toBeTruthy();

    const audit = readFileSync(join(dir, 'keys', 'audit.log'), 'utf8');
    expect(audit).toContain('"refused:ticket_expired"');
  } finally {
    engine.close();
    client.close();
    await custodian.close();
  }
});

it('treats a silent or misbehaving custodian as custodian_unavailable, and reconnects afterwards', async () => {
  const path = join(dir, 'fake.sock');
  let behaviour: 'silent' | 'garbage' = 'silent';
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('data', () => {
      if (behaviour === 'garbage') socket.write(Buffer.concat([Buffer.from([0, 0, 0, 80]), Buffer.alloc(80, 1)]));
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const client = createCustodianClient({ socketPath: path, sharedSecret: 'x'.repeat(32), timeoutMs: 300 });
  try {
    await expect(client.health()).rejects.toMatchObject({ code: 'custodian_unavailable', status: 503 });
    behaviour = 'garbage';
    await expect(client.health()).rejects.toMatchObject({ code: 'custodian_unavailable' });
    await expect(client.judge('A'.repeat(43), new Uint8Array(4))).rejects.toMatchObject({ code: 'custodian_unavailable' });
    expect(sockets.size).toBeGreaterThanOrEqual(2); // a new connection after each failure
  } finally {
    client.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
