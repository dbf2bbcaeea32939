import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics (prom-client), one registry per app instance. Security events are counted
 * where they are audited, so the metrics and the audit trail cannot disagree; latencies are
 * measured around the face step and the custodian calls. Labels never carry user data.
 */
export interface Metrics {
  readonly registry: Registry;
  readonly securityEvents: Counter<'type' | 'outcome'>;
  readonly faceStep: Histogram<'step'>;
  readonly custodianCall: Histogram<'op' | 'result'>;
  readonly httpRequests: Histogram<'route' | 'status'>;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'faceid_' });
  const histogram = <L extends string>(name: string, help: string, labelNames: L[], buckets: number[]) =>
    new Histogram<L>({ name, help, labelNames, buckets, registers: [registry] });
  return {
    registry,
    securityEvents: new Counter({
      name: 'faceid_security_events_total',
      help: 'Audited security events (sign-ins, denials, lockouts, enrollments...) by type and outcome',
      labelNames: ['type', 'outcome'],
      registers: [registry],
    }),
    faceStep: histogram(
      'faceid_face_step_seconds',
      'Face step duration: frames to verdict (verify) or to encrypted template (enroll)',
      ['step'],
      [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10],
    ),
    custodianCall: histogram(
      'faceid_custodian_call_seconds',
      'Key custodian calls (ticket + judge) by result: ok, or the error code',
      ['op', 'result'],
      [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 3],
    ),
    httpRequests: histogram(
      'faceid_http_request_seconds',
      'HTTP requests by route group and status',
      ['route', 'status'],
      [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    ),
  };
}
