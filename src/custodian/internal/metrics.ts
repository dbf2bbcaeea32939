import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from '../../shared/index.ts';

/**
 * The custodian's own Prometheus metrics, served (optionally) on a loopback port of its own: the
 * alerts must reach monitoring without passing through the web tier they may be about.
 */
export interface CustodianMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'op' | 'outcome'>;
  readonly alerts: Counter<'alert'>;
  readonly subjects: Gauge;
}

export function createCustodianMetrics(): CustodianMetrics {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({ name: 'faceid_custodian_requests_total', help: 'Custodian operations by outcome (issued, match, no_match, rate_limited, refused:<code>...)', labelNames: ['op', 'outcome'], registers: [registry] }),
    alerts: new Counter({ name: 'faceid_custodian_alerts_total', help: 'Custodian alerts: subject_budget_exhausted, subject_burst, global_cap_reached, registration_cap_reached, forget_cap_reached, template_mismatch', labelNames: ['alert'], registers: [registry] }),
    subjects: new Gauge({ name: 'faceid_custodian_subjects', help: 'Enrolled subjects (active keys)', registers: [registry] }),
  };
}

export async function serveMetrics(metrics: CustodianMetrics, listen: { host: string; port: number }, logger: Logger): Promise<{ address: { host: string; port: number }; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      (error: unknown) => {
        logger.error({ err: error }, 'metrics rendering failed');
        res.writeHead(500).end();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
